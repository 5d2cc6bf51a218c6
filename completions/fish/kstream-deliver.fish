# fish completion for kstream-deliver.

function __kstream_deliver_streams
    set -l root $KSTREAM_HOME
    test -n "$root"; or set root (test -n "$XDG_DATA_HOME"; and echo $XDG_DATA_HOME; or echo $HOME/.local/share)/kstream
    for d in $root/streams/*/
        basename $d
    end
end

complete -c kstream-deliver -f -n 'not string match -q -- "-*" (commandline -ct)' -a '(__kstream_deliver_streams)'
complete -c kstream-deliver -l to -r -F -d 'Target directory (must exist)'
complete -c kstream-deliver -l name -x -d 'Consumer group'
complete -c kstream-deliver -l buffer-size -x -a '64KiB 1MiB 5MiB 64MiB 128MiB' -d 'Write a file once this much is buffered'
complete -c kstream-deliver -l buffer-interval -x -a '1s 5s 10s 60s 300s 900s' -d 'Write a file once its oldest record waited this long'
complete -c kstream-deliver -s c -l compress -x -a 'none gzip zstd lz4' -d 'Compression'
complete -c kstream-deliver -s l -l level -x -d 'Compression level'
complete -c kstream-deliver -s d -l delimiter -x -d 'Written after each record'
complete -c kstream-deliver -l no-delimiter -d 'Write records back to back'
complete -c kstream-deliver -l json -d 'One JSON envelope per line'
complete -c kstream-deliver -s p -l prefix -x -a '!{timestamp:yyyy/MM/dd/HH}/' -d 'Path template under the target'
complete -c kstream-deliver -l max-partitions -x -a '100 500 5000' -d 'Active prefixes at most; more go under errors/'
complete -c kstream-deliver -l until-caught-up -d 'Deliver what the stream holds now, then exit'
complete -c kstream-deliver -l stats -d 'Print totals at exit'
complete -c kstream-deliver -s i -l iterator -x -a 'TRIM_HORIZON LATEST AT_TIMESTAMP' -d 'Where a new group starts'
complete -c kstream-deliver -l timestamp -x -d 'Time for AT_TIMESTAMP'
complete -c kstream-deliver -l worker -x -d 'Worker id in the group'
complete -c kstream-deliver -l lease-timeout -x -d 'Lease timeout'
complete -c kstream-deliver -l endpoint -x -a 'http://127.0.0.1:4567' -d 'Kinesis-compatible endpoint instead of the store ($KSTREAM_ENDPOINT)'
complete -c kstream-deliver -l home -r -F -d 'Store directory'
complete -c kstream-deliver -s q -l quiet -d 'Print only errors'
complete -c kstream-deliver -s v -l verbose -d 'Print lease events and totals'
complete -c kstream-deliver -s h -l help -d 'Print help'
complete -c kstream-deliver -l version -d 'Print version'
