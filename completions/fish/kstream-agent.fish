# fish completion for kstream-agent.

function __kstream_agent_streams
    set -l root $KSTREAM_HOME
    if test -z "$root"
        if set -q XDG_DATA_HOME
            set root $XDG_DATA_HOME/kstream
        else
            set root $HOME/.local/share/kstream
        end
    end
    for d in $root/streams/*/
        string replace -r '.*/([^/]+)/$' '$1' -- $d
    end
end

set -l formats SINGLELINE CSVTOJSON ADDMETADATA LOGTOJSON:COMMONAPACHELOG LOGTOJSON:COMBINEDAPACHELOG \
    LOGTOJSON:APACHEERRORLOG LOGTOJSON:SYSLOG LOGTOJSON:RFC3164SYSLOG LOGTOJSON:RFC3339SYSLOG LOGTOJSON:RFC5424SYSLOG

complete -c kstream-agent -f
complete -c kstream-agent -s c -l configuration -r -F -d 'Kinesis Agent configuration (agent.json)'
complete -c kstream-agent -s f -l file -r -F -d 'Tail the files matching a glob (one flow)'
complete -c kstream-agent -s s -l stream -x -a '(__kstream_agent_streams)' -d 'Stream to write to'
complete -c kstream-agent -l format -x -a "$formats" -d 'Data processing, in order'
complete -c kstream-agent -l fields -x -d 'customFieldNames (comma-separated)'
complete -c kstream-agent -l delimiter -x -d 'CSVTOJSON delimiter (regex)'
complete -c kstream-agent -l match-pattern -x -d 'LOGTOJSON pattern whose groups are the fields'
complete -c kstream-agent -l send-unmatched -d 'LOGTOJSON: send unmatched lines as they are'
complete -c kstream-agent -l metadata -x -d 'ADDMETADATA metadata (JSON)'
complete -c kstream-agent -l timestamp -d 'ADDMETADATA: add a ts key'
complete -c kstream-agent -s m -l multiline -x -d 'A line matching REGEX starts a record'
complete -c kstream-agent -l initial-position -x -a 'START_OF_FILE END_OF_FILE' -d 'Where a first start reads existing files'
complete -c kstream-agent -l partition-key -x -a 'RANDOM DETERMINISTIC' -d 'Partition key'
complete -c kstream-agent -l skip-header-lines -x -d 'Lines to skip at the start of each file'
complete -c kstream-agent -l max-buffer-age -x -d 'Longest a record waits'
complete -c kstream-agent -l max-buffer-records -x -d 'Records per batch (1-500)'
complete -c kstream-agent -l publish-queue-capacity -x -d 'Batches not yet durable before reading pauses'
complete -c kstream-agent -l max-buffer-bytes -x -d 'Bytes per batch'
complete -c kstream-agent -l checkpoint-file -r -F -d 'Checkpoint file'
complete -c kstream-agent -l once -d 'Read what is there now, send it and exit'
complete -c kstream-agent -l stats -d 'Print counters as JSON on stdout'
complete -c kstream-agent -l stats-interval -x -d 'Also print them this often'
complete -c kstream-agent -l endpoint -x -a 'http://127.0.0.1:4567' -d 'Kinesis-compatible endpoint instead of the store ($KSTREAM_ENDPOINT)'
complete -c kstream-agent -l home -x -a '(__fish_complete_directories)' -d 'Store directory'
complete -c kstream-agent -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c kstream-agent -s v -l verbose -d 'Print a summary on stderr'
complete -c kstream-agent -s h -l help -d 'Show help'
complete -c kstream-agent -l version -d 'Show the version'
