# bash completion for smtoken(1) and smtoken-agent(1).
# Installed as bash-completion/completions/smtoken (and .../smtoken-agent); or source it.
#
# Endpoint names come from `smtoken list` (the first column), so they are the running agent's;
# when no agent answers, from the [endpoint NAME] sections of the config file.  Profile names
# come from the AWS CLI's shared files.

_smtoken_config_endpoints()
{
    local f=${1:-${SMTOKEN_CONFIG:-${XDG_CONFIG_HOME:-$HOME/.config}/smtoken/smtoken.conf}}
    [[ -r $f ]] || return
    sed -n 's/^[[:space:]]*\[[[:space:]]*endpoint[[:space:]]\{1,\}\([A-Za-z0-9_.-]\{1,\}\)[[:space:]]*\].*/\1/p' "$f"
}

# $@: the global options given so far (--socket PATH).
_smtoken_endpoints()
{
    local names
    names=$(command smtoken "$@" list 2>/dev/null | awk '{ print $1 }')
    [[ -n $names ]] || names=$(_smtoken_config_endpoints)
    printf '%s\n' "$names"
}

_smtoken_profiles()
{
    local c=${AWS_CONFIG_FILE:-$HOME/.aws/config} k=${AWS_SHARED_CREDENTIALS_FILE:-$HOME/.aws/credentials}
    {
        [[ -r $c ]] && sed -n -e 's/^[[:space:]]*\[[[:space:]]*profile[[:space:]]\{1,\}\([^]]*[^][:space:]]\)[[:space:]]*\].*/\1/p' \
            -e 's/^[[:space:]]*\[[[:space:]]*\(default\)[[:space:]]*\].*/\1/p' "$c"
        [[ -r $k ]] && sed -n 's/^[[:space:]]*\[[[:space:]]*\([^]]*[^][:space:]]\)[[:space:]]*\].*/\1/p' "$k"
    } 2>/dev/null | sort -u
}

_smtoken()
{
    local cur prev i cmd='' cmdi=0 nargs=0
    local -a sock=() words=("${COMP_WORDS[@]}")
    local cword=$COMP_CWORD
    cur=${words[cword]}
    prev=${words[cword - 1]}
    local commands='env token exec write list status add remove reload help'

    # The command is the first word that is neither an option nor --socket's value.
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
        --socket)
            sock=(--socket "${words[i + 1]}")
            ((i++))
            ;;
        --socket=*) sock=("${words[i]}") ;;
        -*) ;;
        *)
            cmd=${words[i]}
            cmdi=$i
            break
            ;;
        esac
    done

    if [[ -z $cmd ]]; then
        case $prev in
        --socket)
            COMPREPLY=($(compgen -f -- "$cur"))
            return
            ;;
        esac
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W '--socket --help --version' -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return
    fi

    # exec: everything after "--" is the command's.
    if [[ $cmd == exec ]]; then
        for ((i = cmdi + 1; i < cword; i++)); do
            if [[ ${words[i]} == -- ]]; then
                if ((i + 1 == cword)); then
                    COMPREPLY=($(compgen -c -- "$cur"))
                elif declare -F _command_offset >/dev/null; then
                    _command_offset $((i + 1))
                else
                    COMPREPLY=($(compgen -f -- "$cur"))
                fi
                return
            fi
        done
    fi

    # Positional arguments of the command given so far (not counting option values).
    for ((i = cmdi + 1; i < cword; i++)); do
        case ${words[i]} in
        --shell | --format | --process-json) ((i++)) ;;
        -*) ;;
        *) ((nargs++)) ;;
        esac
    done

    case $prev in
    --shell)
        COMPREPLY=($(compgen -W 'sh csh fish json dotenv bash zsh ksh dash tcsh' -- "$cur"))
        return
        ;;
    --format)
        COMPREPLY=($(compgen -W 'raw env dotenv json' -- "$cur"))
        return
        ;;
    --process-json)
        COMPREPLY=(-)
        return
        ;;
    esac

    local opts='' pos=''
    case $cmd in
    env)
        opts='--shell --unset'
        ((nargs == 0)) && pos=endpoint
        ;;
    token)
        opts='--json'
        ((nargs == 0)) && pos=endpoint
        ;;
    exec)
        opts='--'
        ((nargs == 0)) && pos=endpoint
        ;;
    write)
        opts='--format'
        if ((nargs == 0)); then pos=endpoint-or-file; elif ((nargs == 1)); then pos=file; fi
        ;;
    add)
        opts='--from-env --process-json'
        ((nargs == 0)) && pos=profile
        ;;
    remove)
        ((nargs == 0)) && pos=profile
        ;;
    list | status | reload | help) ;;
    *) return ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts --help" -- "$cur"))
        return
    fi
    case $pos in
    endpoint)
        COMPREPLY=($(compgen -W "$(_smtoken_endpoints "${sock[@]}")" -- "$cur"))
        ;;
    endpoint-or-file)
        COMPREPLY=($(compgen -W "$(_smtoken_endpoints "${sock[@]}")" -- "$cur") $(compgen -f -- "$cur"))
        ;;
    file)
        COMPREPLY=($(compgen -f -- "$cur"))
        ;;
    profile)
        COMPREPLY=($(compgen -W "$(_smtoken_profiles)" -- "$cur"))
        ;;
    esac
}

_smtoken_agent()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} i config=''

    for ((i = 1; i < COMP_CWORD; i++)); do
        [[ ${COMP_WORDS[i]} == --config ]] && config=${COMP_WORDS[i + 1]}
    done
    case $prev in
    --socket | --config)
        COMPREPLY=($(compgen -f -- "$cur"))
        return
        ;;
    --once)
        COMPREPLY=($(compgen -W "$(_smtoken_config_endpoints "$config")" -- "$cur"))
        return
        ;;
    esac
    COMPREPLY=($(compgen -W '-s -c -k -D --foreground --socket --config --debug --once
        -h --help -V --version' -- "$cur"))
}

complete -F _smtoken smtoken
complete -F _smtoken_agent smtoken-agent
