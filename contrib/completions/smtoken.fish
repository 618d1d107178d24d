# fish completion for smtoken(1) and smtoken-agent(1).  Install as smtoken.fish (and
# smtoken-agent.fish) in a fish completions directory, e.g. vendor_completions.d.
#
# Endpoint names come from `smtoken list` (first column), else from the config file's
# [endpoint NAME] sections; profile names from the AWS CLI's shared files.

function __smtoken_config_endpoints
    set -l f $argv[1]
    if test -z "$f"
        if set -q SMTOKEN_CONFIG; and test -n "$SMTOKEN_CONFIG"
            set f $SMTOKEN_CONFIG
        else if set -q XDG_CONFIG_HOME; and test -n "$XDG_CONFIG_HOME"
            set f $XDG_CONFIG_HOME/smtoken/smtoken.conf
        else
            set f $HOME/.config/smtoken/smtoken.conf
        end
    end
    test -r "$f"; or return
    sed -n 's/^[[:space:]]*\[[[:space:]]*endpoint[[:space:]]\{1,\}\([A-Za-z0-9_.-]\{1,\}\)[[:space:]]*\].*/\1/p' $f
end

function __smtoken_endpoints
    set -l tokens (commandline -opc)
    set -l sock
    for i in (seq 2 (count $tokens))
        switch $tokens[$i]
            case '--socket=*'
                set sock $tokens[$i]
            case --socket
                set -l j (math $i + 1)
                set -q tokens[$j]; and set sock --socket $tokens[$j]
        end
    end
    set -l names (command smtoken $sock list 2>/dev/null | awk '{ print $1 }')
    test (count $names) -gt 0; or set names (__smtoken_config_endpoints)
    printf '%s\n' $names
end

function __smtoken_profiles
    set -l c $HOME/.aws/config
    set -q AWS_CONFIG_FILE; and set c $AWS_CONFIG_FILE
    set -l k $HOME/.aws/credentials
    set -q AWS_SHARED_CREDENTIALS_FILE; and set k $AWS_SHARED_CREDENTIALS_FILE
    begin
        test -r $c; and sed -n -e 's/^[[:space:]]*\[[[:space:]]*profile[[:space:]]\{1,\}\([^]]*[^][:space:]]\)[[:space:]]*\].*/\1/p' \
            -e 's/^[[:space:]]*\[[[:space:]]*\(default\)[[:space:]]*\].*/\1/p' $c
        test -r $k; and sed -n 's/^[[:space:]]*\[[[:space:]]*\([^]]*[^][:space:]]\)[[:space:]]*\].*/\1/p' $k
    end 2>/dev/null | sort -u
end

# True when the command line has no smtoken command yet.
function __smtoken_needs_command
    set -l tokens (commandline -opc)
    set -l skip 0
    for t in $tokens[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $t
            case --socket
                set skip 1
            case '-*'
            case '*'
                return 1
        end
    end
    return 0
end

function __smtoken_after_dashdash
    set -l tokens (commandline -opc)
    contains -- exec $tokens; and contains -- -- $tokens
end

# exec NAME -- CMD ...: complete CMD and its arguments as if typed alone.
function __smtoken_exec_command
    set -l tokens (commandline -opc)
    set -l i (contains -i -- -- $tokens)
    set -l rest $tokens[(math $i + 1)..-1] (commandline -ct)
    if test (count $rest) -le 1
        __fish_complete_command
    else
        complete -C (string join -- ' ' (string escape -- $rest[1..-2]) $rest[-1])
    end
end

set -l cmds env token exec write list status add remove reload help

complete -c smtoken -f
complete -c smtoken -n __smtoken_needs_command -l socket -r -F -d 'the agent socket'
complete -c smtoken -n __smtoken_needs_command -s h -l help -d 'print a summary of the commands'
complete -c smtoken -n __smtoken_needs_command -s V -l version -d 'print the version'
complete -c smtoken -n __smtoken_needs_command -a env -d 'print OPENAI_API_KEY and friends for eval'
complete -c smtoken -n __smtoken_needs_command -a token -d 'print the token alone (or JSON)'
complete -c smtoken -n __smtoken_needs_command -a exec -d 'run a command with the variables set'
complete -c smtoken -n __smtoken_needs_command -a write -d 'write the token to a file safely'
complete -c smtoken -n __smtoken_needs_command -a list -d 'list endpoints'
complete -c smtoken -n __smtoken_needs_command -a status -d 'endpoints with credentials and errors'
complete -c smtoken -n __smtoken_needs_command -a add -d 'hand credentials to the agent'
complete -c smtoken -n __smtoken_needs_command -a remove -d 'forget credentials added with add'
complete -c smtoken -n __smtoken_needs_command -a reload -d 'make the agent re-read smtoken.conf'
complete -c smtoken -n __smtoken_needs_command -a help -d 'print a summary of the commands'

complete -c smtoken -n "__fish_seen_subcommand_from env token exec write; and not __smtoken_after_dashdash" \
    -a '(__smtoken_endpoints)' -d endpoint
complete -c smtoken -n "__fish_seen_subcommand_from env" -l shell -x \
    -a 'sh csh fish json dotenv bash zsh ksh dash tcsh' -d 'output syntax'
complete -c smtoken -n "__fish_seen_subcommand_from env" -l unset -d 'print the unset commands'
complete -c smtoken -n "__fish_seen_subcommand_from token" -l json -d 'JSON with token, expires_at, base_url'
complete -c smtoken -n "__fish_seen_subcommand_from write" -F -d file
complete -c smtoken -n "__fish_seen_subcommand_from write" -l format -x -a 'raw env dotenv json' -d 'file contents'
complete -c smtoken -n "__fish_seen_subcommand_from add" -l from-env -d 'read AWS_ACCESS_KEY_ID and friends'
complete -c smtoken -n "__fish_seen_subcommand_from add" -l process-json -x -a - -d 'credential_process JSON on stdin'
complete -c smtoken -n "__fish_seen_subcommand_from add remove" -a '(__smtoken_profiles)' -d 'AWS profile'
complete -c smtoken -n "__fish_seen_subcommand_from $cmds; and not __smtoken_after_dashdash" -l help -d 'print help'
complete -c smtoken -n "__fish_seen_subcommand_from exec; and not __smtoken_after_dashdash" -a -- -d 'then the command'
complete -c smtoken -n __smtoken_after_dashdash -x -a '(__smtoken_exec_command)'

complete -c smtoken-agent -f
complete -c smtoken-agent -s s -d 'print Bourne shell commands'
complete -c smtoken-agent -s c -d 'print C shell commands'
complete -c smtoken-agent -s k -d 'stop the agent named by $SMTOKEN_AGENT_PID'
complete -c smtoken-agent -s D -l foreground -d 'stay in the foreground, log to stderr'
complete -c smtoken-agent -l socket -r -F -d 'listen on this socket'
complete -c smtoken-agent -l config -r -F -d 'read this configuration file'
complete -c smtoken-agent -l debug -d 'also log debug messages'
complete -c smtoken-agent -l once -x -a '(__smtoken_config_endpoints)' -d 'print one token for an endpoint and exit'
complete -c smtoken-agent -s h -l help -d 'print a summary of the options'
complete -c smtoken-agent -s V -l version -d 'print the version'
