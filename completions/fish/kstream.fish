# fish completion for kstream, kstream-put, kstream-get, kstream-scale and
# kstream-window.
#
# Install as ~/.config/fish/completions/kstream.fish (or under
# /usr/share/fish/vendor_completions.d/) with copies or symlinks named
# kstream-put.fish, kstream-get.fish, kstream-scale.fish and kstream-window.fish:
# fish loads
# completions by command name.

# Options that take a value, as the next token or after '='.
set -g __kstream_arg_opts --home --endpoint -k --partition-key -K --key-field -E --explicit-hash-key \
    --sync --linger --batch-records --batch-bytes --aggregate-max-count --aggregate-max-size \
    --rate-limit --record-ttl \
    --failed -s --shard -i --iterator --sequence-number --timestamp \
    -n --limit --shards --retention --scaling-action --count --pct --min-shards --max-shards --at \
    --period --sample --up-threshold --down-threshold --up-count --up-pct --down-count --down-pct \
    --cool-off --interval --tumbling --sliding --every --session --time-field --time-format \
    --allowed-lateness -g --group-by --sum --avg --min --max --distinct --top --percentile -w \
    --where --delimiter --header --stream --late --group --worker --lease-timeout \
    --checkpoint-interval --exec --batch-size --batch-window --max-retries --on-failure

# Prints the positional arguments of the command line so far (options and
# their values left out). For "kstream put logs" that is "put" and "logs".
function __kstream_positionals
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l skip 0
    set -l dashdash 0
    for t in $tokens
        if test $skip -eq 1
            set skip 0
        else if test $dashdash -eq 1
            echo $t
        else if test "$t" = --
            set dashdash 1
        else if string match -q -- '-?*' $t
            contains -- $t $__kstream_arg_opts; and set skip 1
        else
            echo $t
        end
    end
end

# The tool being completed: put, get, or for kstream its command (empty
# while none is given).
function __kstream_tool
    set -l cmd (string replace -r '.*/' '' -- (commandline -opc)[1])
    switch $cmd
        case kstream-put
            echo put
        case kstream-get
            echo get
        case kstream-scale
            echo scale
        case kstream-window
            echo window
        case '*'
            set -l pos (__kstream_positionals)
            test (count $pos) -ge 1; and echo $pos[1]
    end
end

# True when the tool is one of the arguments.
function __kstream_is
    set -l tool (__kstream_tool)
    test -n "$tool"; and contains -- $tool $argv
end

# True when kstream has no command yet.
function __kstream_no_command
    set -l tool (__kstream_tool)
    test -z "$tool"
end

# The arguments after the tool's own name (for "kstream put logs": "logs").
function __kstream_args
    set -l pos (__kstream_positionals)
    set -l cmd (string replace -r '.*/' '' -- (commandline -opc)[1])
    test "$cmd" = kstream; and set -e pos[1]
    for p in $pos
        echo $p
    end
end

# True when the tool has fewer than $argv[1] arguments (and the word being
# completed is not an option).
function __kstream_nargs_lt
    set -l cur (commandline -ct)
    string match -q -- '-*' "$cur"; and return 1
    test (count (__kstream_args)) -lt $argv[1]
end

# The store root: --home DIR from the command line, else $KSTREAM_HOME, else
# $XDG_DATA_HOME/kstream, else ~/.local/share/kstream.
function __kstream_root
    set -l tokens (commandline -opc)
    set -l home
    for i in (seq (count $tokens))
        switch $tokens[$i]
            case --home
                set -l j (math $i + 1)
                test $j -le (count $tokens); and set home $tokens[$j]
            case '--home=*'
                set home (string replace -- --home= '' $tokens[$i])
        end
    end
    if test -n "$home"
        string replace -r '^~' $HOME -- $home
    else if test -n "$KSTREAM_HOME"
        echo $KSTREAM_HOME
    else if test -n "$XDG_DATA_HOME"
        echo $XDG_DATA_HOME/kstream
    else
        echo $HOME/.local/share/kstream
    end
end

# Stream names: the directories under <root>/streams/.
function __kstream_streams
    set -l root (__kstream_root)
    for d in $root/streams/*/
        string replace -r '.*/([^/]+)/$' '$1' -- $d
    end
end

# Shard ids of the stream named on the command line.
function __kstream_shards
    set -l args (__kstream_args)
    test (count $args) -ge 1; or return
    set -l root (__kstream_root)
    for d in $root/streams/$args[1]/shards/*/
        string replace -r '.*/([^/]+)/$' '$1' -- $d
    end
end

# Consumer groups of the stream named on the command line: the directories
# under <root>/streams/<stream>/groups/ holding a lease table.
function __kstream_groups
    set -l args (__kstream_args)
    test (count $args) -ge 1; or return
    set -l root (__kstream_root)
    for f in $root/streams/$args[1]/groups/*/leases.json
        string replace -r '.*/([^/]+)/leases.json$' '$1' -- $f
    end
end

function __kstream_builtins
    printf '%s\t%s\n' \
        create 'Create a stream' \
        list 'List stream names' \
        describe 'Describe a stream and its shards' \
        delete 'Delete a stream and its records' \
        retention 'Set the retention period' \
        groups 'List the consumer groups of a stream' \
        group 'Show, reset or delete a consumer group' \
        help 'Show help for a command'
end

function __kstream_commands
    __kstream_builtins
    printf '%s\t%s\n' \
        put 'Write records from stdin (kstream-put)' \
        get 'Read records to stdout (kstream-get)' \
        scale 'Split, merge, resize or autoscale a stream (kstream-scale)' \
        window 'Windowed aggregates of NDJSON or CSV records (kstream-window)'
end

# True when nothing but "kstream" precedes the word being completed: after
# options (kstream -q list) only the built-in commands work.
function __kstream_first_word
    test (count (commandline -opc)) -eq 1
end

# kstream-X commands on PATH, which kstream dispatches to.
function __kstream_external
    for c in (complete -C kstream- | string replace -r '\t.*' '')
        set c (string replace -r '^kstream-' '' -- $c)
        contains -- $c create list describe delete retention groups group help put get scale window; or echo $c
    end
end

for c in kstream kstream-put kstream-get kstream-scale kstream-window
    complete -c $c -f
    complete -c $c -l home -x -a '(__fish_complete_directories)' -d 'Store root (overrides $KSTREAM_HOME)'
    complete -c $c -l endpoint -x -a 'http://127.0.0.1:4567' -d 'Kinesis-compatible endpoint instead of the store ($KSTREAM_ENDPOINT)'
    complete -c $c -s q -l quiet -d 'No diagnostics except errors'
    complete -c $c -s v -l verbose -d 'Summary and progress on stderr'
    complete -c $c -s h -l help -d 'Show help with examples'
    complete -c $c -l version -d 'Show version'
end

# kstream: commands.
complete -c kstream -n __kstream_no_command -a '(__kstream_builtins)'
complete -c kstream -n '__kstream_no_command; and __kstream_first_word' -a '(__kstream_commands)'
complete -c kstream -n '__kstream_no_command; and __kstream_first_word' -a '(__kstream_external)' -d 'kstream-* command'
complete -c kstream -n '__kstream_is create' -l shards -x -d 'Number of shards, 1-10000 (default 1)'
complete -c kstream -n '__kstream_is create' -l retention -x -d 'Retention in hours, 24-8760 (default 24)'
complete -c kstream -n '__kstream_is list describe groups group' -l json -d 'Print JSON like the Kinesis API'
complete -c kstream -n '__kstream_is describe delete retention groups group; and __kstream_nargs_lt 1' -a '(__kstream_streams)' -d Stream
complete -c kstream -n '__kstream_is group; and test (count (__kstream_args)) -eq 1' -a '(__kstream_groups)' -d Group
complete -c kstream -n '__kstream_is group' -l reset -d 'Start the group over at --iterator'
complete -c kstream -n '__kstream_is group' -l delete -d 'Delete the group'
complete -c kstream -n '__kstream_is group' -s i -l iterator -x -d 'With --reset: where to start' -a 'TRIM_HORIZON LATEST AT_TIMESTAMP'
complete -c kstream -n '__kstream_is group' -l timestamp -x -d 'With --reset --iterator AT_TIMESTAMP: the time'
complete -c kstream -n '__kstream_is retention; and test (count (__kstream_args)) -eq 1' -a '24 168 720 8760' -d Hours
complete -c kstream -n '__kstream_is help; and __kstream_nargs_lt 1' -a '(__kstream_commands)'
complete -c kstream -n '__kstream_is help; and __kstream_nargs_lt 1' -a '(__kstream_external)' -d 'kstream-* command'

# kstream-put and kstream put.
for c in kstream kstream-put
    set -l put "__kstream_is put"
    complete -c $c -n "$put; and __kstream_nargs_lt 1" -a '(__kstream_streams)' -d Stream
    complete -c $c -n $put -s k -l partition-key -x -d 'Fixed partition key for every record'
    complete -c $c -n $put -s K -l key-field -x -d 'Partition key from a JSON field (dotted path)'
    complete -c $c -n $put -s E -l explicit-hash-key -x -d 'Decimal 128-bit hash key routing every record'
    complete -c $c -n $put -l json -d 'Read aws kinesis put-records entries'
    complete -c $c -n $put -s 0 -l null -d 'Records are NUL-terminated'
    complete -c $c -n $put -l sync -x -d 'Durability before a record is reported' -a "
        always\t'fsync before each batch is reported'
        batch\t'fsync at least every 200 ms and at the end (default)'
        never\t'no fsync, data stays in the OS page cache'"
    complete -c $c -n $put -l linger -x -d 'Max time a record waits to be batched (default 0ms, 100ms with --aggregate)'
    complete -c $c -n $put -l batch-records -x -d 'Max Kinesis records per write batch (default 10000)'
    complete -c $c -n $put -l batch-bytes -x -d 'Max bytes per write batch (default 4MiB)'
    complete -c $c -n $put -l rate-limit -x -d 'With --endpoint: per-shard rate in % of the shard limits (default 150; 0: off)'
    complete -c $c -n $put -l record-ttl -x -d 'With --endpoint: a record not written within this long fails (default 30s)'
    complete -c $c -n $put -l fail-if-throttled -d 'With --endpoint: throttled records fail instead of being retried'
    complete -c $c -n $put -s a -l aggregate -d 'Pack records per shard into KPL aggregated records'
    complete -c $c -n $put -l aggregate-max-count -x -d 'Most user records per aggregate'
    complete -c $c -n $put -l aggregate-max-size -x -d 'Most bytes per aggregated record (default 51200)'
    complete -c $c -n $put -l failed -r -F -d 'Append records not written to FILE as JSON lines'
    complete -c $c -n $put -l stats -d 'Print counters and latency percentiles at the end'
    complete -c $c -n $put -s p -l print -d 'Print ShardId and SequenceNumber once durable'
    complete -c $c -n $put -l skip-invalid -d 'Skip invalid lines instead of stopping'
end

# kstream-get and kstream get.
for c in kstream kstream-get
    set -l get "__kstream_is get"
    complete -c $c -n "$get; and __kstream_nargs_lt 1" -a '(__kstream_streams)' -d Stream
    complete -c $c -n $get -s s -l shard -x -a '(__kstream_shards)' -d 'Read only this shard (repeatable)'
    complete -c $c -n $get -s i -l iterator -x -d 'Where to start reading' -a "
        TRIM_HORIZON\t'oldest record still held (default)'
        LATEST\t'only records put from now on'
        AT_SEQUENCE_NUMBER\t'at --sequence-number'
        AFTER_SEQUENCE_NUMBER\t'just after --sequence-number'
        AT_TIMESTAMP\t'first record at or after --timestamp'"
    complete -c $c -n $get -l sequence-number -x -d 'For AT_/AFTER_SEQUENCE_NUMBER'
    complete -c $c -n $get -l timestamp -x -d 'For AT_TIMESTAMP: ISO-8601, epoch s, or epoch ms with ms suffix'
    complete -c $c -n $get -s f -l follow -d 'Keep waiting for new records'
    complete -c $c -n $get -s n -l limit -x -d 'Stop after N records'
    complete -c $c -n $get -l json -d 'One JSON envelope per record'
    complete -c $c -n $get -s 0 -l null -d 'NUL-terminated output records'
    complete -c $c -n $get -l ordered -d 'Merge all shards by arrival time'
    complete -c $c -n $get -l no-deaggregate -d 'KPL aggregated records as stored, not their user records'
    complete -c $c -n $get -s g -l group -x -a '(__kstream_groups)' -d 'Read as a worker of this consumer group'
    complete -c $c -n $get -l worker -x -d 'Worker id in the group (default hostname:pid)'
    complete -c $c -n $get -l lease-timeout -x -d 'A lease not renewed this long may be taken (default 10s)'
    complete -c $c -n $get -l checkpoint-interval -x -d 'Write checkpoints at most this often (default 1s)'
    complete -c $c -n $get -l exec -x -a '(__fish_complete_command)' -d 'Run CMD per batch, the records on its stdin'
    complete -c $c -n $get -l batch-size -x -d '--exec: most records per batch (default 100)'
    complete -c $c -n $get -l batch-window -x -d '--exec: longest wait for a batch to fill (default 0s)'
    complete -c $c -n $get -l max-retries -x -d '--exec: reruns of a failing batch (default 3)'
    complete -c $c -n $get -l bisect-on-error -d '--exec: halve a batch that keeps failing'
    complete -c $c -n $get -l on-failure -r -F -a 'stream:' -d '--exec: FILE or stream:NAME for records that keep failing'
end

# kstream-scale: the action, from its argument or from --scaling-action.
function __kstream_scale_action
    set -l tokens (commandline -opc)
    for i in (seq (count $tokens))
        set -l sa
        switch $tokens[$i]
            case --scaling-action
                set -l j (math $i + 1)
                test $j -le (count $tokens); and set sa $tokens[$j]
            case '--scaling-action=*'
                set sa (string replace -- --scaling-action= '' $tokens[$i])
        end
        switch "$sa"
            case scaleUp
                echo up
                return
            case scaleDown
                echo down
                return
            case resize report
                echo $sa
                return
        end
    end
    set -l args (__kstream_args)
    test (count $args) -ge 2; and echo $args[2]
end

# True when kstream-scale's action comes next (no --scaling-action given).
function __kstream_scale_wants_action
    __kstream_nargs_lt 2; or return
    test (count (__kstream_args)) -eq 1; or return
    not string match -q -- '--scaling-action*' (commandline -opc)
end

# True when the action is one of the arguments (or, with no arguments, when
# there is none yet).
function __kstream_scale_for
    set -l action (__kstream_scale_action)
    test -z "$action"; and return 0
    contains -- $action $argv
end

# True when a shard id comes next: split SHARD, merge SHARD SHARD.
function __kstream_scale_wants_shard
    string match -q -- '-*' (commandline -ct); and return 1
    set -l args (__kstream_args)
    switch "$args[2]"
        case split
            test (count $args) -eq 2
        case merge
            test (count $args) -eq 2 -o (count $args) -eq 3
        case '*'
            return 1
    end
end

# Open shard ids of the stream named on the command line: the shard lines of
# its stream.json without a "closed_ms". For merge, the first shard given is
# left out.
function __kstream_scale_open_shards
    set -l args (__kstream_args)
    test (count $args) -ge 1; or return
    set -l file (__kstream_root)/streams/$args[1]/stream.json
    if not test -r $file
        __kstream_shards
        return
    end
    set -l skip
    if test (count $args) -ge 3
        set skip $args[3]
        string match -qr '^[0-9]+$' -- $skip; and set skip (printf 'shardId-%012d' $skip)
    end
    string match -r '^\s*\{"index": \d+,.*' <$file | string match -v '*"closed_ms"*' |
        string replace -r '^\s*\{"index": (\d+),.*' '$1' |
        while read -l n
            set -l id (printf 'shardId-%012d' $n)
            test "$id" = "$skip"; or echo $id
        end
end

# kstream-scale and kstream scale.
for c in kstream kstream-scale
    set -l scale "__kstream_is scale"
    complete -c $c -n "$scale; and __kstream_nargs_lt 1" -a '(__kstream_streams)' -d Stream
    complete -c $c -n "$scale; and __kstream_scale_wants_action" -a "
        up\t'Grow by --count N shards or --pct P percent'
        down\t'Shrink by --count N shards or --pct P percent'
        resize\t'Exactly N shards with equal hash ranges'
        split\t'Split one shard (default: the middle of its range)'
        merge\t'Merge two shards whose hash ranges touch'
        auto\t'Scale from the measured write load'
        report\t'The open shards and their share of the hash space'"
    complete -c $c -n "$scale; and __kstream_scale_wants_shard" -a '(__kstream_scale_open_shards)' -d 'Open shard'
    complete -c $c -n "$scale; and __kstream_scale_for" -l scaling-action -x -d "The scaling utility's spelling, instead of an action" -a "
        scaleUp\t'up (with --count or --pct)'
        scaleDown\t'down (with --count or --pct)'
        resize\t'resize to --count shards'
        report\t'the open shards'"
    complete -c $c -n "$scale; and __kstream_scale_for up down resize" -l count -x -d 'Shards to add or remove (up, down); the count for --scaling-action resize'
    complete -c $c -n "$scale; and __kstream_scale_for up down" -l pct -x -d 'Percent to grow or shrink by (up, down)'
    complete -c $c -n "$scale; and __kstream_scale_for up down resize auto" -l min-shards -x -d 'Never go below this many open shards (default 1)'
    complete -c $c -n "$scale; and __kstream_scale_for up down resize auto" -l max-shards -x -d 'Never go above this many open shards (default 10000)'
    complete -c $c -n "$scale; and __kstream_scale_for split" -l at -x -d 'split: the new starting hash key (decimal)'
    complete -c $c -n "$scale; and __kstream_scale_for up down resize split merge auto" -l dry-run -d 'Print the plan; change nothing'
    complete -c $c -n "$scale; and __kstream_scale_for up down resize split merge auto report" -l json -d 'Print the shard maps before and after, and the operations, as JSON'
    set -l auto "$scale; and __kstream_scale_for auto"
    complete -c $c -n $auto -l once -d 'Decide and act once, then exit (for cron)'
    complete -c $c -n $auto -l period -x -d 'Window of load judged (default 5m)'
    complete -c $c -n $auto -l sample -x -d 'Width of one sample (default 1m)'
    complete -c $c -n $auto -l up-threshold -x -d 'Scale up when every sample is at or above this % (default 80)'
    complete -c $c -n $auto -l down-threshold -x -d 'Scale down when every sample is at or below this % (default 20)'
    complete -c $c -n $auto -l up-count -x -d 'Scale up by this many shards'
    complete -c $c -n $auto -l up-pct -x -d 'Scale up by this percent (default 100)'
    complete -c $c -n $auto -l down-count -x -d 'Scale down by this many shards'
    complete -c $c -n $auto -l down-pct -x -d 'Scale down by this percent (default 50)'
    complete -c $c -n $auto -l cool-off -x -d 'Wait this long after any reshard (default 5m)'
    complete -c $c -n $auto -l interval -x -d 'Time between checks (default: --sample)'
end

# kstream-window and kstream window: options only.
for c in kstream kstream-window
    set -l win "__kstream_is window"
    complete -c $c -n $win -l tumbling -x -d 'Fixed windows of this length (5s, 1m)'
    complete -c $c -n $win -l sliding -x -d 'Overlapping windows of this length (with --every)'
    complete -c $c -n $win -l every -x -d 'Slide of --sliding windows'
    complete -c $c -n $win -l session -x -d 'Per-group sessions ending after GAP without records'
    complete -c $c -n $win -l time-field -x -d 'Event time from this field'
    complete -c $c -n $win -l time-format -x -d 'Format of the time field' -a 'auto epoch epoch_ms epoch_us epoch_ns iso8601'
    complete -c $c -n $win -l allowed-lateness -x -d 'Keep event-time windows open this long past their end'
    complete -c $c -n $win -l emit-empty -d 'Also print windows without records'
    complete -c $c -n $win -s g -l group-by -x -d 'Group by these fields (F or F,G)'
    complete -c $c -n $win -s c -l count -d 'Count records (the default)'
    complete -c $c -n $win -l sum -x -d 'Sum of F'
    complete -c $c -n $win -l avg -x -d 'Average of F'
    complete -c $c -n $win -l min -x -d 'Minimum of F'
    complete -c $c -n $win -l max -x -d 'Maximum of F'
    complete -c $c -n $win -l distinct -x -d 'Approximate distinct values of F'
    complete -c $c -n $win -l top -x -d 'The K most frequent values of F (K:F)'
    complete -c $c -n $win -l percentile -x -d 'Percentiles of F (F:P,P)'
    complete -c $c -n $win -s w -l where -x -d 'Only records where EXPR holds'
    complete -c $c -n $win -l csv -d 'Input is CSV with a header line'
    complete -c $c -n $win -l delimiter -x -d 'CSV delimiter' -a "tab , ';' '|'"
    complete -c $c -n $win -l header -x -d 'CSV column names when the input has none'
    complete -c $c -n $win -l stream -x -a '(__kstream_streams)' -d 'Read this stream from the store'
    complete -c $c -n $win -s f -l follow -d 'With --stream: keep reading new records'
    complete -c $c -n $win -s i -l iterator -x -d 'With --stream: where to start' -a 'TRIM_HORIZON LATEST AT_TIMESTAMP'
    complete -c $c -n $win -l timestamp -x -d 'With --iterator AT_TIMESTAMP'
    complete -c $c -n $win -l no-deaggregate -d 'With --stream: KPL aggregated records as stored'
    complete -c $c -n $win -l group -x -d 'With --stream: read as a worker of this consumer group'
    complete -c $c -n $win -l worker -x -d 'With --group: worker id (default hostname:pid)'
    complete -c $c -n $win -l lease-timeout -x -d 'With --group: a lease not renewed this long may be taken (default 10s)'
    complete -c $c -n $win -l strict -d 'Stop at the first bad record'
    complete -c $c -n $win -l late -r -F -d 'Write late records to FILE'
    complete -c $c -n $win -l stats -d 'Print counters as JSON on stderr at the end'
end
