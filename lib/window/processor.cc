#include "window/processor.h"

#include "window/hash.h"

namespace kstream::window {

Status ValidateConfig(const WindowConfig& c) {
  const WindowSpec& w = c.window;
  if (w.kind == WindowSpec::Kind::kSession) {
    if (w.gap_ms <= 0) return Status::InvalidArgument("--session gap must be more than 0");
    if (c.emit_empty) return Status::InvalidArgument("--emit-empty does not apply to --session");
  } else {
    if (w.size_ms <= 0) return Status::InvalidArgument("the window size must be more than 0");
    if (w.kind == WindowSpec::Kind::kSliding) {
      if (w.slide_ms <= 0) return Status::InvalidArgument("--every must be more than 0");
      if (w.slide_ms > w.size_ms)
        return Status::InvalidArgument(
            "--every must not exceed the --sliding size (records "
            "between windows would be skipped)");
    }
  }
  if (c.emit_empty && !c.group_by.empty())
    return Status::InvalidArgument("--emit-empty needs windows without --group-by");
  if (c.allowed_lateness_ms < 0) return Status::InvalidArgument("--allowed-lateness must be >= 0");
  return Status::Ok();
}

Result<std::unique_ptr<Processor>> Processor::Create(const WindowConfig& c,
                                                     bool external_watermark) {
  KS_RETURN_IF_ERROR(ValidateConfig(c));
  std::unique_ptr<Processor> p(new Processor());
  for (const auto& name : c.group_by) {
    KS_ASSIGN_OR_RETURN(FieldPath path, FieldPath::Parse(name));
    p->groups_.names.push_back(name);
    p->groups_.slots.push_back(p->fields_.Add(path));
  }
  std::vector<AggSpec> specs = c.aggregates;
  if (specs.empty()) specs.push_back(AggSpec{});
  for (AggSpec& s : specs) {
    if (s.kind == AggKind::kCount) continue;
    KS_ASSIGN_OR_RETURN(FieldPath path, FieldPath::Parse(s.field));
    const bool numeric = s.kind != AggKind::kDistinct && s.kind != AggKind::kTop;
    s.slot = p->fields_.Add(path, !numeric);
  }
  p->aggs_ = std::make_unique<Aggregates>(std::move(specs));
  KS_ASSIGN_OR_RETURN(p->time_format_, TimeFormat::Parse(c.time_format));
  if (!c.time_field.empty()) {
    KS_ASSIGN_OR_RETURN(FieldPath path, FieldPath::Parse(c.time_field));
    const TimeFormat::Kind k = p->time_format_.kind();
    p->time_slot_ =
        p->fields_.Add(path, k == TimeFormat::Kind::kPattern || k == TimeFormat::Kind::kIso8601);
    p->time_field_ = c.time_field;
  }
  if (!c.where.empty()) {
    KS_ASSIGN_OR_RETURN(p->where_, ParseWhere(c.where, p->fields_));
  }
  p->parser_ = c.csv ? NewCsvParser(p->fields_, c.csv_options) : NewJsonParser(p->fields_);
  EngineOptions eo;
  eo.spec = c.window;
  eo.allowed_lateness_ms = c.allowed_lateness_ms;
  p->allowed_lateness_ms_ = c.allowed_lateness_ms;
  eo.emit_empty = c.emit_empty;
  eo.external_watermark = external_watermark;
  p->engine_ = NewWindowEngine(eo, *p->aggs_, p->groups_);
  return p;
}

Status Processor::Add(std::string_view line, int64_t now, int64_t late_before, Outcome& outcome,
                      int64_t& time) {
  outcome = Outcome::kSkipped;
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) return Status::Ok();
  bool header = false;
  KS_RETURN_IF_ERROR(parser_->Parse(line, values_, &header));
  if (header) return Status::Ok();
  if (where_ && !where_->Eval(values_)) {
    outcome = Outcome::kFiltered;
    return Status::Ok();
  }
  int64_t t = now;
  if (time_slot_ >= 0) {
    const FieldValue& v = values_[size_t(time_slot_)];
    if (!v.present()) return Status::InvalidArgument("field '" + time_field_ + "' is missing");
    if (!time_format_.ToMillis(v, t))
      return Status::InvalidArgument("field '" + time_field_ +
                                     "' is not a time: " + std::string(v.text.substr(0, 64)));
  }
  KS_RETURN_IF_ERROR(groups_.BuildKey(values_, key_));
  KS_RETURN_IF_ERROR(aggs_->Prepare(values_, input_));
  time = t;
  if (t < late_before) {
    outcome = Outcome::kLate;
    return Status::Ok();
  }
  outcome = engine_->Add(t, key_, HashBytes(key_), input_) ? Outcome::kAdded : Outcome::kLate;
  return Status::Ok();
}

}  // namespace kstream::window
