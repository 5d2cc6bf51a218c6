# fish completion for kstream-serve. Install as
# ~/.config/fish/completions/kstream-serve.fish (or under
# /usr/share/fish/vendor_completions.d/; CMake does).

complete -c kstream-serve -f
complete -c kstream-serve -s l -l listen -x -a '127.0.0.1:4567 127.0.0.1:0 [::1]:4567' -d 'Address to listen on'
complete -c kstream-serve -s t -l threads -x -d 'Requests served at once'
complete -c kstream-serve -l access-log -r -F -d 'Append one line per request to FILE (- for stderr)'
complete -c kstream-serve -l require-auth -r -F -d 'Verify SigV4 signatures against the keys of an AWS credentials file'
complete -c kstream-serve -l enforce-limits -d 'Throttle past the per-shard limits of a provisioned stream'
complete -c kstream-serve -l sync -x -a 'always batch never' -d 'Durability before a put is answered'
complete -c kstream-serve -l region -x -a 'us-east-1 us-east-2 us-west-1 us-west-2 eu-west-1 eu-central-1' -d 'Region named in stream ARNs'
complete -c kstream-serve -l home -x -a '(__fish_complete_directories)' -d 'Store directory'
complete -c kstream-serve -s q -l quiet -d 'No start message'
complete -c kstream-serve -s v -l verbose -d 'A message when the server stops'
complete -c kstream-serve -l version -d 'Print the version and exit'
complete -c kstream-serve -s h -l help -d 'Print help and exit'
