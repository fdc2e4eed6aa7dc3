/*
 * tls_client TARGET CERT KEY CA CHECK RESOURCE: locks RESOURCE over TLS
 * through the daemon at TARGET (a socket path, or tcp:ADDRESS:PORT) with the
 * three TLS files and TlsCheckPeerId = CHECK (0 or 1), prints the return code
 * of every call, the locked element, then unlocks and cleans up.
 * Exit status: 0 when the lock was granted, 1 when it was not, 2 on usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <flom.h>

#define CALL(expr) report(#expr, (expr))

static int report(const char *what, int rc)
{
    printf("%s = %d (%s)\n", what, rc, flom_strerror(rc));
    return rc;
}

int main(int argc, char *argv[])
{
    flom_handle_t h;
    const char *target, *cert, *key, *ca, *resource;
    int check, locked;

    if (argc != 7) {
        fprintf(stderr, "usage: tls_client TARGET CERT KEY CA CHECK RESOURCE\n");
        return 2;
    }
    target = argv[1];
    cert = argv[2];
    key = argv[3];
    ca = argv[4];
    check = atoi(argv[5]);
    resource = argv[6];

    CALL(flom_handle_init(&h));
    if (strncmp(target, "tcp:", 4) == 0) {
        char address[256];
        const char *port = strrchr(target + 4, ':');
        size_t len;
        if (port == NULL || (len = (size_t)(port - (target + 4))) >= sizeof(address)) {
            fprintf(stderr, "tls_client: TARGET tcp:ADDRESS:PORT\n");
            return 2;
        }
        memcpy(address, target + 4, len);
        address[len] = '\0';
        CALL(flom_handle_set_unicast_address(&h, address));
        CALL(flom_handle_set_unicast_port(&h, atoi(port + 1)));
    } else {
        CALL(flom_handle_set_socket_name(&h, target));
    }
    CALL(flom_handle_set_tls_certificate(&h, cert));
    CALL(flom_handle_set_tls_private_key(&h, key));
    CALL(flom_handle_set_tls_ca_certificate(&h, ca));
    CALL(flom_handle_set_tls_check_peer_id(&h, check));
    printf("tls_check_peer_id = %d\n", flom_handle_get_tls_check_peer_id(&h));
    CALL(flom_handle_set_resource_name(&h, resource));
    locked = CALL(flom_handle_lock(&h)) == FLOM_RC_OK;
    if (locked) {
        const char *element = flom_handle_get_locked_element(&h);
        printf("locked element = %s\n", element != NULL ? element : "(null)");
        CALL(flom_handle_unlock(&h));
    }
    CALL(flom_handle_clean(&h));
    return locked ? 0 : 1;
}
