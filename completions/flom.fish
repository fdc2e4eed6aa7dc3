# fish completion for flom(1), the Free LOck Manager.
# Installed as $(datadir)/fish/vendor_completions.d/flom.fish.

# True once the command line holds "--": the rest belongs to the command.
function __flom_after_dashdash
    contains -- -- (commandline -opc)
end

# Completes the words after "--" as a command line of their own.
function __flom_complete_command
    set -l rest
    set -l seen 0
    for t in (commandline -opc)
        if test $seen = 1
            set -a rest $t
        else if test "$t" = --
            set seen 1
        end
    end
    set -a rest (commandline -ct)
    complete -C "$rest"
end

complete -c flom -n __flom_after_dashdash -f -a '(__flom_complete_command)'

set -l opt 'not __flom_after_dashdash'
set -l lock_modes 'NL CR CW PR PW EX NullLock ConcurrentRead ConcurrentWrite ProtectedRead ProtectedWrite Exclusive'
set -l signals 'SIGHUP SIGINT SIGQUIT SIGILL SIGTRAP SIGABRT SIGBUS SIGFPE SIGUSR1 SIGSEGV SIGUSR2 SIGPIPE SIGALRM SIGTERM SIGSTKFLT SIGCONT SIGTSTP SIGTTIN SIGTTOU SIGURG SIGXCPU SIGXFSZ SIGVTALRM SIGPROF SIGWINCH SIGIO SIGPWR SIGSYS'

complete -c flom -n $opt -s h -l help -d 'Show the help and exit'
complete -c flom -n $opt -l help-all -d 'Show the help and exit'
complete -c flom -n $opt -s v -l version -d 'Print version information and exit'
complete -c flom -n $opt -s V -l verbose -d 'Print the effective configuration and progress messages'
complete -c flom -n $opt -s c -l config-file -r -F -d 'Configuration file read after the system and user ones'
complete -c flom -n $opt -s r -l resource-name -x -d 'Name of the resource to lock'
complete -c flom -n $opt -s o -l resource-timeout -x -d 'Maximum wait for the lock in ms (<0 forever, 0 no wait)'
complete -c flom -n $opt -s q -l resource-quantity -x -d 'Number of units to lock (numeric resources)'
complete -c flom -n $opt -s e -l resource-create -x -a 'yes no' -d 'Whether the request may create a missing resource'
complete -c flom -n $opt -s i -l resource-idle-lifespan -x -d 'How long an unused resource is kept, in ms'
complete -c flom -n $opt -s l -l lock-mode -x -a $lock_modes -d 'Lock mode'
complete -c flom -n $opt -s s -l socket-name -r -F -d 'UNIX socket of the local daemon'
complete -c flom -n $opt -s d -l daemon-lifespan -x -d 'Idle lifetime of an auto-started daemon in ms (0 never start one, <0 forever)'
complete -c flom -n $opt -s a -l unicast-address -x -a '(__fish_print_hostnames)' -d 'TCP/IP address of the daemon'
complete -c flom -n $opt -s p -l unicast-port -x -d 'TCP/IP port of the daemon'
complete -c flom -n $opt -s A -l multicast-address -x -d 'UDP/IP multicast address used to discover the daemon'
complete -c flom -n $opt -s P -l multicast-port -x -d 'UDP/IP multicast port used for discovery'
complete -c flom -n $opt -s m -l mount-point-vfs -x -a '(__fish_complete_directories)' -d 'Mount point of the daemon virtual file system'
complete -c flom -n $opt -s n -l network-interface -x -a '(__fish_print_interfaces)' -d 'Network interface for IPv6 link-local addresses'
complete -c flom -n $opt -s D -l discovery-attempts -x -d 'Number of UDP/IP discovery requests'
complete -c flom -n $opt -s I -l discovery-timeout -x -d 'Wait for each discovery reply, in ms'
complete -c flom -n $opt -l discovery-ttl -x -d 'Hop limit of discovery datagrams'
complete -c flom -n $opt -l tcp-keepalive-time -x -d 'TCP keepalive idle time in seconds'
complete -c flom -n $opt -l tcp-keepalive-intvl -x -d 'TCP keepalive probe interval in seconds'
complete -c flom -n $opt -l tcp-keepalive-probes -x -d 'TCP keepalive probe count'
complete -c flom -n $opt -l tls-certificate -r -F -d 'PEM certificate of this peer'
complete -c flom -n $opt -l tls-private-key -r -F -d 'PEM private key of this peer'
complete -c flom -n $opt -l tls-ca-certificate -r -F -d 'PEM certificate of the certification authority'
complete -c flom -n $opt -l tls-check-peer-id -x -a 'yes no' -d 'Check that the peer unique id matches its certificate'
complete -c flom -n $opt -l etcd-endpoints -x -d 'Keep the locks in this etcd cluster (URLs)'
complete -c flom -n $opt -l etcd-prefix -x -d 'Key prefix of the lock space in etcd'
complete -c flom -n $opt -l etcd-lease-ttl -x -d 'TTL of the etcd lease in seconds'
complete -c flom -n $opt -l etcd-ca-file -r -F -d 'PEM CA certificate of the etcd members'
complete -c flom -n $opt -l etcd-cert-file -r -F -d 'PEM client certificate shown to etcd'
complete -c flom -n $opt -l etcd-key-file -r -F -d 'PEM private key of the etcd client certificate'
complete -c flom -n $opt -l ignore-signal -x -a $signals -d 'Signal ignored while the command runs (repeatable)'
complete -c flom -n $opt -l signal-list -d 'Print the signals --ignore-signal accepts and exit'
complete -c flom -n $opt -s t -l daemon-trace-file -r -F -d 'Trace file of the daemon'
complete -c flom -n $opt -s T -l command-trace-file -r -F -d 'Trace file of this command'
complete -c flom -n $opt -l append-trace-file -x -a 'yes no' -d 'Append to the trace files instead of truncating them'
complete -c flom -n $opt -l strict-fifo -d 'Daemon: grant requests strictly in arrival order'
complete -c flom -n $opt -l foreground-daemon -d 'Run the daemon in the foreground, as a service'
complete -c flom -n $opt -l service-lifespan -x -d 'Idle time after which a --foreground-daemon exits, in ms'
complete -c flom -n $opt -l socket-access -x -a 'user all (printf "group:%s\n" (__fish_complete_groups | string replace -r "\t.*" ""))' -d 'Who may connect to the daemon besides its user and root'
complete -c flom -n $opt -l daemon-owner -x -a 'any (__fish_complete_users)' -d 'Also trust a daemon run by this user'
complete -c flom -n $opt -l request-timeout -x -d 'Close a connection that sends no request in this time, in ms'
complete -c flom -n $opt -l restrict-tcp-shutdown -x -a 'yes no' -d 'Accept -x/-X over TCP only from loopback or TLS peers'
complete -c flom -n $opt -s x -l quiesce-exit -d 'Ask the daemon to exit after the current requests'
complete -c flom -n $opt -s X -l immediate-exit -d 'Ask the daemon to exit now'
complete -c flom -n $opt -l unique-id -d 'Print the unique id of this host and exit'
complete -c flom -n $opt -l status -d "Show the daemon's resources, holders, waiters and incubator"
complete -c flom -n $opt -l json -d 'With --status: print one JSON document'
complete -c flom -n $opt -l fencing -d 'Ask for a fencing token (FLOM_FENCING_TOKEN for the command)'
complete -c flom -n $opt -l debug-feature -x -a 'IPv6.Multicast.Server IPv6.Multicast.Client TLS.Server TLS.Client' -d 'Run a debug helper and exit'
complete -c flom -n $opt -a '(__fish_complete_command)' -d Command
