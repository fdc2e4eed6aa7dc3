/*
 * flom_errors.h - return codes and exit statuses of FLoM (libflom).
 * Part of the Rust implementation of FLoM, the Free LOck Manager.
 * License: GPL-2.0-only.
 *
 * The numbers are those of C FLoM 1.7.2; flom_strerror gives their texts.
 */
#ifndef FLOM_ERRORS_H
#define FLOM_ERRORS_H

#include <errno.h>

/* Exit statuses of the flom command. */
#define FLOM_ES_OK                          0
#define FLOM_ES_REQUESTER_CANT_WAIT        96
#define FLOM_ES_UNABLE_TO_EXECUTE_COMMAND  97
#define FLOM_ES_RESOURCE_BUSY              98
#define FLOM_ES_GENERIC_ERROR              99

/* Warnings and information (positive). */
#define FLOM_RC_INACTIVE_FEATURE                         +13
#define FLOM_RC_RESOURCE_IS_NOT_TRANSACTIONAL            +12
#define FLOM_RC_API_IMMUTABLE_HANDLE                     +11
#define FLOM_RC_ELEMENT_NAME_NOT_AVAILABLE               +10
#define FLOM_RC_NETWORK_TIMEOUT                           +9
#define FLOM_RC_CONNECTION_CLOSED                         +8
#define FLOM_RC_CONNECTION_REFUSED                        +7
#define FLOM_RC_LOCK_IMPOSSIBLE                           +6
#define FLOM_RC_LOCK_CANT_WAIT                            +5
#define FLOM_RC_LOCK_BUSY                                 +4
#define FLOM_RC_LOCK_CANT_LOCK                            +3
#define FLOM_RC_LOCK_WAIT_RESOURCE                        +2
#define FLOM_RC_LOCK_ENQUEUED                             +1

/* Success. */
#define FLOM_RC_OK                                         0

/* Errors of FLoM itself. */
#define FLOM_RC_INTERNAL_ERROR                            -1
#define FLOM_RC_DAEMON_NOT_STARTED                        -2
#define FLOM_RC_NETWORK_EVENT_ERROR                       -3
#define FLOM_RC_NULL_OBJECT                               -4
#define FLOM_RC_INVALID_OPTION                            -5
#define FLOM_RC_OBJ_CORRUPTED                             -6
#define FLOM_RC_OUT_OF_RANGE                              -7
#define FLOM_RC_INVALID_PREFIX_SIZE                       -8
#define FLOM_RC_BUFFER_OVERFLOW                           -9
#define FLOM_RC_INVALID_MSG_LENGTH                       -10
#define FLOM_RC_INVALID_PROPERTY_VALUE                   -11
#define FLOM_RC_CONTAINER_FULL                           -12
#define FLOM_RC_PROTOCOL_ERROR                           -13
#define FLOM_RC_INVALID_RESOURCE_NAME                    -14
#define FLOM_RC_PROTOCOL_LEVEL_MISMATCH                  -15
#define FLOM_RC_MSG_DESERIALIZE_ERROR                    -16
#define FLOM_RC_API_INVALID_SEQUENCE                     -17
#define FLOM_RC_INVALID_AI_FAMILY_ERROR                  -18
#define FLOM_RC_INVALID_IP_ADDRESS                       -19
#define FLOM_RC_INVALID_IPV6_NETWORK_INTERFACE           -20
#define FLOM_RC_NEW_OBJ                                  -21
#define FLOM_RC_NO_CERTIFICATE                           -22
#define FLOM_RC_UNIQUE_ID_DOES_NOT_MATCH                 -23
#define FLOM_RC_NO_TLS_CONNECTION                        -24
#define FLOM_RC_INVALID_TIMESTAMP_FORMAT                 -25
#define FLOM_RC_RESOURCE_INIT_ERROR                      -26
#define FLOM_RC_CONNECTION_CLOSED_BY_SERVER              -27
#define FLOM_RC_OBJ_NOT_FOUND_ERROR                      -28

/* A system call failed. */
#define FLOM_RC_ACCEPT_ERROR                            -100
#define FLOM_RC_BIND_ERROR                              -101
#define FLOM_RC_CHDIR_ERROR                             -102
#define FLOM_RC_CLOSE_ERROR                             -103
#define FLOM_RC_CLOSEDIR_ERROR                          -104
#define FLOM_RC_CONNECT_ERROR                           -105
#define FLOM_RC_EXECVP_ERROR                            -106
#define FLOM_RC_FCNTL_ERROR                             -107
#define FLOM_RC_FLOCK_ERROR                             -108
#define FLOM_RC_FORK_ERROR                              -109
#define FLOM_RC_GETADDRINFO_ERROR                       -110
#define FLOM_RC_GETIFADDRS_ERROR                        -111
#define FLOM_RC_GETNAMEINFO_ERROR                       -112
#define FLOM_RC_GETSOCKNAME_ERROR                       -113
#define FLOM_RC_GETSOCKOPT_ERROR                        -114
#define FLOM_RC_GETTIMEOFDAY_ERROR                      -115
#define FLOM_RC_INET_NTOP_ERROR                         -116
#define FLOM_RC_LISTEN_ERROR                            -117
#define FLOM_RC_LOCALTIME_R_ERROR                       -118
#define FLOM_RC_MALLOC_ERROR                            -119
#define FLOM_RC_OPEN_ERROR                              -120
#define FLOM_RC_OPENDIR_ERROR                           -121
#define FLOM_RC_PIPE_ERROR                              -122
#define FLOM_RC_POLL_ERROR                              -123
#define FLOM_RC_READ_ERROR                              -124
#define FLOM_RC_REALPATH_ERROR                          -125
#define FLOM_RC_RECV_ERROR                              -126
#define FLOM_RC_RECVFROM_ERROR                          -127
#define FLOM_RC_REGCOMP_ERROR                           -128
#define FLOM_RC_REGEXEC_ERROR                           -129
#define FLOM_RC_SEND_ERROR                              -130
#define FLOM_RC_SENDTO_ERROR                            -131
#define FLOM_RC_SETSID_ERROR                            -132
#define FLOM_RC_SETSOCKOPT_ERROR                        -133
#define FLOM_RC_SIGACTION_ERROR                         -134
#define FLOM_RC_SIGADDSET_ERROR                         -135
#define FLOM_RC_SIGEMPTYSET_ERROR                       -136
#define FLOM_RC_SIGNAL_ERROR                            -137
#define FLOM_RC_SIGPROCMASK_ERROR                       -138
#define FLOM_RC_SOCKET_ERROR                            -139
#define FLOM_RC_SNPRINTF_ERROR                          -140
#define FLOM_RC_UNLINK_ERROR                            -141
#define FLOM_RC_WAIT_ERROR                              -142
#define FLOM_RC_WRITE_ERROR                             -143

/* A GLib function failed (C FLoM only). */
#define FLOM_RC_G_ARRAY_NEW_ERROR                       -200
#define FLOM_RC_G_BASE64_DECODE_ERROR                   -201
#define FLOM_RC_G_BASE64_ENCODE_ERROR                   -202
#define FLOM_RC_G_KEY_FILE_LOAD_FROM_FILE_ERROR         -203
#define FLOM_RC_G_KEY_FILE_NEW_ERROR                    -204
#define FLOM_RC_G_MARKUP_PARSE_CONTEXT_NEW_ERROR        -205
#define FLOM_RC_G_MARKUP_PARSE_CONTEXT_PARSE_ERROR      -206
#define FLOM_RC_G_NODE_APPEND_DATA_ERROR                -207
#define FLOM_RC_G_NODE_NEW_ERROR                        -208
#define FLOM_RC_G_NODE_PREPEND_DATA_ERROR               -209
#define FLOM_RC_G_PTR_ARRAY_REMOVE_INDEX_FAST_ERROR     -210
#define FLOM_RC_G_QUEUE_NEW_ERROR                       -211
#define FLOM_RC_G_STRDUP_ERROR                          -212
#define FLOM_RC_G_STRNDUP_ERROR                         -213
#define FLOM_RC_G_STRSPLIT_ERROR                        -214
#define FLOM_RC_G_THREAD_NEW_ERROR                      -215
#define FLOM_RC_G_TRY_MALLOC_ERROR                      -216
#define FLOM_RC_G_TRY_REALLOC_ERROR                     -217

/* A JNI function failed (Java binding). */
#define FLOM_RC_GET_FIELD_ID_ERROR                      -300
#define FLOM_RC_GET_OBJECT_CLASS_ERROR                  -301
#define FLOM_RC_NEW_DIRECT_BYTE_BUFFER_ERROR            -302

/* An OpenSSL function failed. */
#define FLOM_RC_SSL_CTX_CHECK_PRIVATE_KEY_ERROR         -400
#define FLOM_RC_SSL_CTX_LOAD_VERIFY_LOCATIONS_ERROR     -401
#define FLOM_RC_SSL_CTX_NEW_ERROR                       -402
#define FLOM_RC_SSL_CTX_USE_CERTIFICATE_FILE_ERROR      -403
#define FLOM_RC_SSL_CTX_USE_PRIVATEKEY_FILE_ERROR       -404
#define FLOM_RC_SSL_ACCEPT_ERROR                        -405
#define FLOM_RC_SSL_CONNECT_ERROR                       -406
#define FLOM_RC_SSL_GET_VERIFY_RESULT_ERROR             -407
#define FLOM_RC_SSL_NEW_ERROR                           -408
#define FLOM_RC_SSL_READ_ERROR                          -409
#define FLOM_RC_SSL_SET_EX_DATA_ERROR                   -410
#define FLOM_RC_SSL_SET_FD_ERROR                        -411
#define FLOM_RC_SSL_WRITE_ERROR                         -412
#define FLOM_RC_TLS_NO_VALID_METHOD                     -413

#ifdef __cplusplus
extern "C" {
#endif

/* The text of a return code; a static string, never NULL. */
const char *flom_strerror(int ret_cod);

#ifdef __cplusplus
}
#endif

#endif /* FLOM_ERRORS_H */
