/*
 * api_cases SOCKET FLOM [extra]: calls every function of the FLoM C API
 * against the daemon listening on SOCKET and prints one line per result.
 * FLOM is the flom command, used at the end to stop the daemon under a held
 * lock. The output is the same with any conforming libflom; "extra" adds
 * the calls C FLoM's library does not survive (NULL and foreign handles in
 * every function), for our library only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <flom.h>

static const char *socket_path;

static const char *s(const char *v) { return v != NULL ? v : "(null)"; }

#define SHOW(expr) printf("%s = %d\n", #expr, (int)(expr))
#define SHOWS(expr) printf("%s = %s\n", #expr, s(expr))

static void fresh(flom_handle_t *h, const char *resource)
{
    flom_handle_init(h);
    flom_handle_set_socket_name(h, socket_path);
    flom_handle_set_resource_name(h, resource);
}

static void strerror_texts(void)
{
    static const int codes[] = { 13, 12, 11, 9, 4, 1, 0, -1, -4, -9, -17,
        -27, -105, -119, -140, -203, -216, -300, -404, -405, -413, -999 };
    size_t i;
    printf("== flom_strerror\n");
    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        printf("%d: %s\n", codes[i], flom_strerror(codes[i]));
}

static void defaults(void)
{
    flom_handle_t h;
    char expected[200];
    printf("== defaults\n");
    SHOW(flom_handle_init(&h));
    SHOW(h.state);
    snprintf(expected, sizeof(expected), "/tmp/flom-%s", getenv("USER") ? getenv("USER") : "");
    printf("socket name is /tmp/flom-$USER: %s\n",
           strcmp(s(flom_handle_get_socket_name(&h)), expected) == 0 ? "yes" : "no");
    SHOWS(flom_handle_get_resource_name(&h));
    SHOW(flom_handle_get_resource_create(&h));
    SHOW(flom_handle_get_resource_timeout(&h));
    SHOW(flom_handle_get_resource_quantity(&h));
    SHOW(flom_handle_get_lock_mode(&h));
    SHOW(flom_handle_get_resource_idle_lifespan(&h));
    SHOWS(flom_handle_get_unicast_address(&h));
    SHOW(flom_handle_get_unicast_port(&h));
    SHOWS(flom_handle_get_multicast_address(&h));
    SHOW(flom_handle_get_multicast_port(&h));
    SHOWS(flom_handle_get_network_interface(&h));
    SHOW(flom_handle_get_discovery_attempts(&h));
    SHOW(flom_handle_get_discovery_timeout(&h));
    SHOW(flom_handle_get_discovery_ttl(&h));
    SHOWS(flom_handle_get_tls_certificate(&h));
    SHOWS(flom_handle_get_tls_private_key(&h));
    SHOWS(flom_handle_get_tls_ca_certificate(&h));
    SHOW(flom_handle_get_tls_check_peer_id(&h));
    SHOWS(flom_handle_get_locked_element(&h));
    SHOW(flom_handle_clean(&h));
    SHOW(h.state);
}

static void setters(void)
{
    flom_handle_t h;
    char long_path[120];
    printf("== setters\n");
    flom_handle_init(&h);
    SHOW(flom_handle_set_resource_quantity(&h, -3));
    SHOW(flom_handle_get_resource_quantity(&h));
    SHOW(flom_handle_set_resource_quantity(&h, 0));
    SHOW(flom_handle_get_resource_quantity(&h));
    SHOW(flom_handle_set_resource_idle_lifespan(&h, -50));
    SHOW(flom_handle_get_resource_idle_lifespan(&h));
    SHOW(flom_handle_set_resource_idle_lifespan(&h, 0));
    SHOW(flom_handle_get_resource_idle_lifespan(&h));
    SHOW(flom_handle_set_resource_timeout(&h, -7));
    SHOW(flom_handle_get_resource_timeout(&h));
    SHOW(flom_handle_set_resource_create(&h, 0));
    SHOW(flom_handle_get_resource_create(&h));
    SHOW(flom_handle_set_lock_mode(&h, FLOM_LOCK_MODE_PR));
    SHOW(flom_handle_get_lock_mode(&h));
    SHOW(flom_handle_set_discovery_attempts(&h, 0));
    SHOW(flom_handle_get_discovery_attempts(&h));
    SHOW(flom_handle_set_discovery_attempts(&h, -4));
    SHOW(flom_handle_get_discovery_attempts(&h));
    SHOW(flom_handle_set_discovery_timeout(&h, -250));
    SHOW(flom_handle_get_discovery_timeout(&h));
    SHOW(flom_handle_set_discovery_ttl(&h, 0));
    SHOW(flom_handle_get_discovery_ttl(&h));
    SHOW(flom_handle_set_discovery_ttl(&h, -3));
    SHOW(flom_handle_get_discovery_ttl(&h));
    SHOW(flom_handle_set_unicast_port(&h, -12345));
    SHOW(flom_handle_get_unicast_port(&h));
    SHOW(flom_handle_set_multicast_port(&h, 23456));
    SHOW(flom_handle_get_multicast_port(&h));
    SHOW(flom_handle_set_resource_name(&h, "red.green.blue"));
    SHOWS(flom_handle_get_resource_name(&h));
    SHOW(flom_handle_set_resource_name(&h, "not a name"));
    SHOWS(flom_handle_get_resource_name(&h));
    SHOW(flom_handle_set_resource_name(&h, "_RESOURCE"));
    SHOWS(flom_handle_get_resource_name(&h));
    SHOW(flom_handle_set_unicast_address(&h, "127.0.0.1"));
    SHOWS(flom_handle_get_unicast_address(&h));
    SHOWS(flom_handle_get_socket_name(&h));
    SHOW(flom_handle_set_multicast_address(&h, "224.0.0.1"));
    SHOWS(flom_handle_get_multicast_address(&h));
    SHOWS(flom_handle_get_unicast_address(&h));
    SHOW(flom_handle_set_socket_name(&h, "/tmp/some.sock"));
    SHOWS(flom_handle_get_socket_name(&h));
    SHOWS(flom_handle_get_multicast_address(&h));
    memset(long_path, 'x', sizeof(long_path));
    long_path[0] = '/';
    long_path[108] = '\0';
    SHOW(flom_handle_set_socket_name(&h, long_path));
    SHOWS(flom_handle_get_socket_name(&h));
    long_path[107] = '\0';
    SHOW(flom_handle_set_socket_name(&h, long_path));
    printf("socket name length = %d\n", (int)strlen(s(flom_handle_get_socket_name(&h))));
    SHOW(flom_handle_set_network_interface(&h, "nosuchif0"));
    SHOWS(flom_handle_get_network_interface(&h));
    SHOW(flom_handle_set_tls_certificate(&h, "/nonexistent/cert.pem"));
    SHOWS(flom_handle_get_tls_certificate(&h));
    SHOW(flom_handle_set_tls_certificate(&h, "/etc/../etc/passwd"));
    SHOWS(flom_handle_get_tls_certificate(&h));
    SHOW(flom_handle_set_tls_private_key(&h, "/etc/./passwd"));
    SHOWS(flom_handle_get_tls_private_key(&h));
    SHOW(flom_handle_set_tls_ca_certificate(&h, "/etc//passwd"));
    SHOWS(flom_handle_get_tls_ca_certificate(&h));
    SHOW(flom_handle_set_tls_check_peer_id(&h, 1));
    SHOW(flom_handle_get_tls_check_peer_id(&h));
    SHOW(flom_handle_set_trace_filename(&h, "/dev/null"));
    SHOWS(flom_handle_get_trace_filename(&h));
    SHOW(flom_handle_clean(&h));
}

static void life_cycle(void)
{
    flom_handle_t h, *d;
    printf("== life cycle\n");
    memset(&h, 0, sizeof(h));
    printf("zeroed handle:\n");
    SHOW(flom_handle_lock(&h));
    SHOW(flom_handle_unlock(&h));
    SHOW(flom_handle_clean(&h));
    printf("unlock without lock:\n");
    fresh(&h, "capi");
    SHOW(flom_handle_unlock(&h));
    SHOW(flom_handle_clean(&h));
    printf("clean without unlock:\n");
    fresh(&h, "capi");
    SHOW(flom_handle_lock(&h));
    SHOW(h.state);
    SHOW(flom_handle_clean(&h));
    SHOW(h.state);
    printf("after clean:\n");
    SHOW(flom_handle_lock(&h));
    SHOW(flom_handle_set_resource_name(&h, "capi"));
    printf("static happy path:\n");
    fresh(&h, "capi");
    SHOW(flom_handle_lock(&h));
    SHOWS(flom_handle_get_locked_element(&h));
    SHOW(flom_handle_lock(&h));
    SHOW(flom_handle_unlock(&h));
    SHOW(h.state);
    SHOW(flom_handle_unlock(&h));
    SHOW(flom_handle_lock(&h));
    SHOW(flom_handle_unlock(&h));
    SHOW(flom_handle_clean(&h));
    printf("dynamic happy path:\n");
    d = flom_handle_new();
    printf("new = %s\n", d != NULL ? "handle" : "NULL");
    SHOW(flom_handle_set_socket_name(d, socket_path));
    SHOW(flom_handle_set_resource_name(d, "red.green.blue"));
    SHOW(flom_handle_lock(d));
    SHOWS(flom_handle_get_locked_element(d));
    SHOWS(d->locked_element);
    SHOW(flom_handle_unlock(d));
    SHOWS(flom_handle_get_locked_element(d));
    flom_handle_delete(d);
    printf("dynamic handle, delete while locked:\n");
    d = flom_handle_new();
    flom_handle_set_socket_name(d, socket_path);
    SHOW(flom_handle_lock(d));
    flom_handle_delete(d);
    flom_handle_delete(NULL);
    printf("delete(NULL) survived\n");
}

static void contention(void)
{
    flom_handle_t a, b, c;
    printf("== contention\n");
    fresh(&a, "busy");
    fresh(&b, "busy");
    SHOW(flom_handle_lock(&a));
    SHOW(flom_handle_set_resource_timeout(&b, 0));
    SHOW(flom_handle_lock(&b));
    SHOW(b.state);
    SHOW(flom_handle_unlock(&b));
    SHOW(b.state);
    SHOW(flom_handle_set_resource_timeout(&b, 100));
    SHOW(flom_handle_lock(&b));
    SHOW(b.state);
    SHOW(flom_handle_unlock(&b));
    SHOW(flom_handle_unlock(&a));
    printf("set with three elements:\n");
    fresh(&a, "red.green.blue");
    fresh(&b, "red.green.blue");
    fresh(&c, "red.green.blue");
    SHOW(flom_handle_lock(&a));
    SHOWS(flom_handle_get_locked_element(&a));
    SHOW(flom_handle_lock(&b));
    SHOWS(flom_handle_get_locked_element(&b));
    SHOW(flom_handle_lock(&c));
    SHOWS(flom_handle_get_locked_element(&c));
    SHOW(flom_handle_unlock(&b));
    SHOW(flom_handle_lock(&b));
    SHOWS(flom_handle_get_locked_element(&b));
    SHOW(flom_handle_unlock(&a));
    SHOW(flom_handle_unlock(&b));
    SHOW(flom_handle_unlock(&c));
    flom_handle_clean(&a);
    flom_handle_clean(&b);
    flom_handle_clean(&c);
    printf("immutable while locked:\n");
    fresh(&a, "resource1");
    SHOW(flom_handle_lock(&a));
    SHOW(flom_handle_set_resource_name(&a, "resource2"));
    SHOWS(flom_handle_get_resource_name(&a));
    SHOW(flom_handle_set_socket_name(&a, "/tmp/other.sock"));
    SHOW(flom_handle_set_resource_timeout(&a, 5));
    SHOW(flom_handle_set_lock_mode(&a, FLOM_LOCK_MODE_NL));
    SHOW(flom_handle_set_discovery_ttl(&a, 5));
    SHOW(flom_handle_set_trace_filename(&a, "/dev/null"));
    SHOW(flom_handle_unlock(&a));
    SHOW(flom_handle_set_resource_name(&a, "resource2"));
    SHOWS(flom_handle_get_resource_name(&a));
    SHOW(flom_handle_lock(&a));
    SHOW(flom_handle_unlock(&a));
    SHOW(flom_handle_clean(&a));
    printf("numeric pool:\n");
    fresh(&a, "pool[3]");
    fresh(&b, "pool[3]");
    SHOW(flom_handle_set_resource_quantity(&a, 2));
    SHOW(flom_handle_set_resource_quantity(&b, 2));
    SHOW(flom_handle_set_resource_timeout(&b, 0));
    SHOW(flom_handle_lock(&a));
    SHOW(flom_handle_lock(&b));
    SHOW(flom_handle_set_resource_quantity(&b, 4));
    SHOW(flom_handle_unlock(&b));
    SHOW(flom_handle_lock(&b));
    SHOW(flom_handle_unlock(&b));
    SHOW(flom_handle_unlock(&a));
    flom_handle_clean(&a);
    flom_handle_clean(&b);
}

static void sequences(void)
{
    flom_handle_t h;
    printf("== sequences\n");
    fresh(&h, "_s_nontransactional[1]");
    SHOW(flom_handle_lock(&h));
    SHOWS(flom_handle_get_locked_element(&h));
    SHOW(flom_handle_unlock_rollback(&h));
    SHOW(flom_handle_lock(&h));
    SHOWS(flom_handle_get_locked_element(&h));
    SHOW(flom_handle_unlock(&h));
    SHOW(flom_handle_clean(&h));
    fresh(&h, "_S_transactional[1]");
    SHOW(flom_handle_lock(&h));
    SHOWS(flom_handle_get_locked_element(&h));
    SHOW(flom_handle_unlock_rollback(&h));
    SHOW(flom_handle_lock(&h));
    SHOWS(flom_handle_get_locked_element(&h));
    SHOW(flom_handle_unlock(&h));
    SHOW(flom_handle_lock(&h));
    SHOWS(flom_handle_get_locked_element(&h));
    SHOW(flom_handle_unlock(&h));
    SHOW(flom_handle_unlock_rollback(&h));
    SHOW(flom_handle_clean(&h));
}

static void extra(void)
{
    flom_handle_t h;
    printf("== extra: NULL and foreign handles\n");
    SHOW(flom_handle_init(NULL));
    SHOW(flom_handle_clean(NULL));
    SHOW(flom_handle_lock(NULL));
    SHOW(flom_handle_unlock(NULL));
    SHOW(flom_handle_unlock_rollback(NULL));
    SHOWS(flom_handle_get_locked_element(NULL));
    SHOWS(flom_handle_get_socket_name(NULL));
    SHOW(flom_handle_get_resource_timeout(NULL));
    SHOW(flom_handle_get_lock_mode(NULL));
    SHOW(flom_handle_set_socket_name(NULL, "/tmp/x"));
    SHOW(flom_handle_set_resource_quantity(NULL, 1));
    memset(&h, 0, sizeof(h));
    h.state = FLOM_HANDLE_STATE_LOCKED;
    h.conn = &h;
    h.config = &h;
    SHOW(flom_handle_unlock(&h));
    SHOW(flom_handle_clean(&h));
    h.state = FLOM_HANDLE_STATE_INIT;
    SHOW(flom_handle_lock(&h));
    SHOW(flom_handle_set_resource_timeout(&h, 1));
    SHOWS(flom_handle_get_resource_name(&h));
    SHOW(flom_handle_set_resource_name(&h, NULL));
    SHOW(flom_handle_set_network_interface(&h, NULL));
    fresh(&h, "capi");
    SHOW(flom_handle_set_resource_name(&h, NULL));
    SHOWS(flom_handle_get_resource_name(&h));
    SHOW(flom_handle_set_tls_certificate(&h, NULL));
    SHOW(flom_handle_clean(&h));
}

static void no_daemon(const char *flom)
{
    flom_handle_t h, other;
    char cmd[400];
    int rc, i;
    printf("== daemon gone\n");
    fresh(&h, "vanish");
    SHOW(flom_handle_lock(&h));
    snprintf(cmd, sizeof(cmd), "%s -s %s -X >/dev/null", flom, socket_path);
    printf("daemon stop = %d\n", system(cmd));
    for (i = 0; i < 500 && access(socket_path, F_OK) == 0; i++)
        usleep(10000);
    rc = flom_handle_unlock(&h);
    printf("unlock after the daemon exit = %s\n",
           rc == 0 || rc == FLOM_RC_SEND_ERROR ? "0 or -130" : "other");
    SHOW(flom_handle_lock(&h));
    SHOW(h.state);
    SHOW(flom_handle_clean(&h));
    fresh(&other, "vanish");
    SHOW(flom_handle_set_socket_name(&other, "/tmp/no-flom-daemon-here.sock"));
    SHOW(flom_handle_lock(&other));
    SHOW(flom_handle_clean(&other));
}

int main(int argc, char *argv[])
{
    if (argc < 3) {
        fprintf(stderr, "usage: api_cases SOCKET FLOM [extra]\n");
        return 2;
    }
    socket_path = argv[1];
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("sizeof(flom_handle_t) = %d\n", (int)sizeof(flom_handle_t));
    strerror_texts();
    defaults();
    setters();
    life_cycle();
    contention();
    sequences();
    if (argc > 3 && strcmp(argv[3], "extra") == 0)
        extra();
    no_daemon(argv[2]);
    printf("== end\n");
    return 0;
}
