# bash completion for flom(1), the Free LOck Manager.
# Installed as $(datadir)/bash-completion/completions/flom.

# Succeeds when option word $1 takes the next word as its value.
__flom_takes_arg()
{
    case $1 in
        -[croqeilsdapAPmnDItT] | --config-file | --resource-name | --resource-timeout | \
            --resource-quantity | --resource-create | --resource-idle-lifespan | \
            --lock-mode | --socket-name | --daemon-lifespan | --unicast-address | \
            --unicast-port | --multicast-address | --multicast-port | \
            --mount-point-vfs | --network-interface | --discovery-attempts | \
            --discovery-timeout | --discovery-ttl | --tcp-keepalive-time | \
            --tcp-keepalive-intvl | --tcp-keepalive-probes | --tls-certificate | \
            --tls-private-key | --tls-ca-certificate | --tls-check-peer-id | \
            --etcd-endpoints | --etcd-prefix | --etcd-lease-ttl | --etcd-ca-file | \
            --etcd-cert-file | --etcd-key-file | \
            --ignore-signal | --daemon-trace-file | --command-trace-file | \
            --append-trace-file | --debug-feature | --service-lifespan | --socket-access | \
            --daemon-owner | --request-timeout | --restrict-tcp-shutdown)
            return 0 ;;
    esac
    return 1
}

_flom()
{
    local cur prev words cword split=false
    if declare -F _init_completion >/dev/null 2>&1; then
        _init_completion -s || return
    else
        # Without bash-completion, "--opt=value" arrives as three words.
        COMPREPLY=()
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
        if [[ $cur == = ]]; then
            cur=
            split=true
        elif [[ $prev == = ]]; then
            prev=${COMP_WORDS[COMP_CWORD - 2]}
            split=true
        fi
    fi

    # The command starts after "--" or at the first word that is neither an
    # option nor an option's value; complete it as a command line of its own.
    local i cmd=0
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --) cmd=$((i + 1)); break ;;
            =) ((i++)) ;;
            -?*) __flom_takes_arg "${words[i]}" && [[ ${words[i + 1]-} != = ]] && ((i++)) ;;
            *) cmd=$i; break ;;
        esac
    done
    if ((cmd > 0)); then
        if declare -F _command_offset >/dev/null 2>&1; then
            _command_offset $cmd
        elif ((cmd == cword)); then
            COMPREPLY=($(compgen -c -- "$cur"))
        else
            COMPREPLY=($(compgen -f -- "$cur"))
        fi
        return
    fi

    case $prev in
        -l | --lock-mode)
            COMPREPLY=($(compgen -W 'NL CR CW PR PW EX NullLock ConcurrentRead
                ConcurrentWrite ProtectedRead ProtectedWrite Exclusive' -- "$cur"))
            return ;;
        -e | --resource-create | --tls-check-peer-id | --append-trace-file | \
            --restrict-tcp-shutdown)
            COMPREPLY=($(compgen -W 'yes no' -- "$cur"))
            return ;;
        -c | --config-file | -t | --daemon-trace-file | -T | --command-trace-file | \
            -s | --socket-name | --tls-certificate | --tls-private-key | \
            --tls-ca-certificate | --etcd-ca-file | --etcd-cert-file | --etcd-key-file)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        -m | --mount-point-vfs)
            COMPREPLY=($(compgen -d -- "$cur"))
            return ;;
        -a | --unicast-address | -A | --multicast-address)
            COMPREPLY=($(compgen -A hostname -- "$cur"))
            return ;;
        -n | --network-interface)
            COMPREPLY=($(compgen -W "$(command ls /sys/class/net 2>/dev/null)" -- "$cur"))
            return ;;
        --ignore-signal)
            COMPREPLY=($(compgen -W 'SIGHUP SIGINT SIGQUIT SIGILL SIGTRAP SIGABRT
                SIGBUS SIGFPE SIGUSR1 SIGSEGV SIGUSR2 SIGPIPE SIGALRM SIGTERM
                SIGSTKFLT SIGCONT SIGTSTP SIGTTIN SIGTTOU SIGURG SIGXCPU
                SIGXFSZ SIGVTALRM SIGPROF SIGWINCH SIGIO SIGPWR SIGSYS' -- "$cur"))
            return ;;
        --socket-access)
            COMPREPLY=($(compgen -W "user all $(getent group 2>/dev/null |
                cut -d: -f1 | sed 's/^/group:/')" -- "$cur"))
            return ;;
        --daemon-owner)
            COMPREPLY=($(compgen -W 'any' -A user -- "$cur"))
            return ;;
        --debug-feature)
            COMPREPLY=($(compgen -W 'IPv6.Multicast.Server IPv6.Multicast.Client
                TLS.Server TLS.Client' -- "$cur"))
            return ;;
        -r | --resource-name | -o | --resource-timeout | -q | --resource-quantity | \
            -i | --resource-idle-lifespan | -d | --daemon-lifespan | \
            -p | --unicast-port | -P | --multicast-port | \
            -D | --discovery-attempts | -I | --discovery-timeout | --discovery-ttl | \
            --tcp-keepalive-time | --tcp-keepalive-intvl | --tcp-keepalive-probes | \
            --request-timeout)
            return ;;
    esac
    $split && return

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W '--help --help-all --version --verbose
            --config-file= --resource-name= --resource-timeout= --resource-quantity=
            --resource-create= --resource-idle-lifespan= --lock-mode=
            --socket-name= --daemon-lifespan= --unicast-address= --unicast-port=
            --multicast-address= --multicast-port= --mount-point-vfs=
            --network-interface= --discovery-attempts= --discovery-timeout=
            --discovery-ttl= --tcp-keepalive-time= --tcp-keepalive-intvl=
            --tcp-keepalive-probes= --tls-certificate= --tls-private-key=
            --tls-ca-certificate= --tls-check-peer-id= --ignore-signal=
            --etcd-endpoints= --etcd-prefix= --etcd-lease-ttl=
            --etcd-ca-file= --etcd-cert-file= --etcd-key-file=
            --signal-list --daemon-trace-file= --command-trace-file=
            --append-trace-file= --quiesce-exit --immediate-exit --unique-id
            --debug-feature= --strict-fifo --foreground-daemon --service-lifespan= --status --json --fencing
            --socket-access= --daemon-owner= --request-timeout=
            --restrict-tcp-shutdown= -h -v -V -c -r -o -q -e -i -l -s -d -a -p -A -P -m
            -n -D -I -t -T -x -X --' -- "$cur"))
        [[ ${COMPREPLY-} == *= ]] && compopt -o nospace 2>/dev/null
        return
    fi

    COMPREPLY=($(compgen -c -- "$cur"))
} &&
    complete -F _flom flom
