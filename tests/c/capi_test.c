/*
 * capi_test SOCKET RESOURCE: lock RESOURCE through the daemon on SOCKET,
 * print the element, unlock (the program of wire vector 18).
 */
#include <stdio.h>
#include <flom.h>

int main(int argc, char *argv[])
{
    flom_handle_t h;
    int rc;
    if (argc != 3) {
        fprintf(stderr, "usage: capi_test SOCKET RESOURCE\n");
        return 2;
    }
    if ((rc = flom_handle_init(&h)) != FLOM_RC_OK ||
        (rc = flom_handle_set_socket_name(&h, argv[1])) != FLOM_RC_OK ||
        (rc = flom_handle_set_resource_name(&h, argv[2])) != FLOM_RC_OK ||
        (rc = flom_handle_lock(&h)) != FLOM_RC_OK) {
        fprintf(stderr, "capi_test: ret_cod=%d (%s)\n", rc, flom_strerror(rc));
        return 1;
    }
    printf("locked, element=%s\n", h.locked_element != NULL ? h.locked_element : "(null)");
    if ((rc = flom_handle_unlock(&h)) != FLOM_RC_OK ||
        (rc = flom_handle_clean(&h)) != FLOM_RC_OK) {
        fprintf(stderr, "capi_test: ret_cod=%d (%s)\n", rc, flom_strerror(rc));
        return 1;
    }
    printf("done\n");
    return 0;
}
