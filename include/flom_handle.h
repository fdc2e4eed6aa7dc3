/*
 * flom_handle.h - the lock handle of the FLoM C API (libflom).
 * Part of the Rust implementation of FLoM, the Free LOck Manager.
 * License: GPL-2.0-only.
 *
 * Usage: initialise a handle (flom_handle_init on your own storage, or
 * flom_handle_new), optionally change its properties, then lock and unlock
 * as often as needed, and finally clean (or delete) it. One handle must not
 * be used by two threads at the same time; separate handles may be used by
 * separate threads. The library reads the system and user configuration
 * files once, on the first call; it never starts a daemon.
 *
 * Every int-returning function returns FLOM_RC_OK (0) on success, a positive
 * warning or a negative error code otherwise (see flom_errors.h and
 * flom_strerror).
 */
#ifndef FLOM_HANDLE_H
#define FLOM_HANDLE_H

#include <stdlib.h>

#include "flom_errors.h"
#include "flom_types.h"

/* Life cycle of a handle. */
typedef enum flom_handle_state_e {
    FLOM_HANDLE_STATE_INIT = 22,   /* initialised, not connected */
    FLOM_HANDLE_STATE_CONNECTED,   /* connected to a daemon, nothing locked */
    FLOM_HANDLE_STATE_LOCKED,      /* holding the lock */
    FLOM_HANDLE_STATE_DISCONNECTED,/* unlocked and disconnected: may lock again */
    FLOM_HANDLE_STATE_CLEANED      /* internals freed: init it again to reuse */
} flom_handle_state_t;

/*
 * The handle. The caller may allocate it (for example on the stack); its
 * fields belong to the library: read them only through the functions below.
 */
typedef struct flom_handle_s {
    flom_handle_state_t state;     /* where the handle is in its life cycle */
    void *conn;                    /* connection data (opaque) */
    void *config;                  /* properties (opaque) */
    char *locked_element;          /* element of the last lock, or NULL */
} flom_handle_t;

#ifdef __cplusplus
extern "C" {
#endif

/* Life cycle */
int flom_handle_init(flom_handle_t *handle);
int flom_handle_clean(flom_handle_t *handle);
flom_handle_t *flom_handle_new(void);
void flom_handle_delete(flom_handle_t *handle);

/* Locking: lock connects when needed; unlock also disconnects. */
int flom_handle_lock(flom_handle_t *handle);
int flom_handle_unlock(flom_handle_t *handle);
/* Unlock giving a transactional sequence's value back (+12 for others). */
int flom_handle_unlock_rollback(flom_handle_t *handle);

/*
 * The element obtained by the last lock (set member, sequence number or
 * timestamp), NULL when the resource has none. The string belongs to the
 * handle and is freed by the next unlock: copy it if you need it later.
 */
const char *flom_handle_get_locked_element(const flom_handle_t *handle);

/*
 * Properties. Setters of connection properties (discovery, addresses,
 * ports, interface, socket name, resource create, TLS) work only before the
 * first lock or after an unlock; lock mode, idle lifespan, resource name,
 * quantity and timeout also while connected; the trace file always.
 * Otherwise they return FLOM_RC_API_IMMUTABLE_HANDLE. Numbers are taken as
 * absolute values.
 */
int flom_handle_get_discovery_attempts(const flom_handle_t *handle);
int flom_handle_set_discovery_attempts(flom_handle_t *handle, int value);
int flom_handle_get_discovery_timeout(const flom_handle_t *handle);
int flom_handle_set_discovery_timeout(flom_handle_t *handle, int value);
int flom_handle_get_discovery_ttl(const flom_handle_t *handle);
int flom_handle_set_discovery_ttl(flom_handle_t *handle, int value);

flom_lock_mode_t flom_handle_get_lock_mode(const flom_handle_t *handle);
int flom_handle_set_lock_mode(flom_handle_t *handle, flom_lock_mode_t value);

/* Setting an address (or the socket name) clears the other two. */
const char *flom_handle_get_multicast_address(const flom_handle_t *handle);
int flom_handle_set_multicast_address(flom_handle_t *handle,
                                      const char *value);
int flom_handle_get_multicast_port(const flom_handle_t *handle);
int flom_handle_set_multicast_port(flom_handle_t *handle, int value);

const char *flom_handle_get_network_interface(const flom_handle_t *handle);
int flom_handle_set_network_interface(flom_handle_t *handle,
                                      const char *value);

int flom_handle_get_resource_create(const flom_handle_t *handle);
int flom_handle_set_resource_create(flom_handle_t *handle, int value);
/* Milliseconds; 0 is ignored. */
int flom_handle_get_resource_idle_lifespan(const flom_handle_t *handle);
int flom_handle_set_resource_idle_lifespan(flom_handle_t *handle, int value);
/* An invalid name is ignored (the previous one stays) and OK is returned. */
const char *flom_handle_get_resource_name(const flom_handle_t *handle);
int flom_handle_set_resource_name(flom_handle_t *handle, const char *value);
/* 0 is ignored. */
int flom_handle_get_resource_quantity(const flom_handle_t *handle);
int flom_handle_set_resource_quantity(flom_handle_t *handle, int value);
/* Milliseconds: 0 do not wait, > 0 wait at most that long, < 0 forever. */
int flom_handle_get_resource_timeout(const flom_handle_t *handle);
int flom_handle_set_resource_timeout(flom_handle_t *handle, int value);

/* AF_UNIX socket path, shorter than 108 bytes (else FLOM_RC_BUFFER_OVERFLOW). */
const char *flom_handle_get_socket_name(const flom_handle_t *handle);
int flom_handle_set_socket_name(flom_handle_t *handle, const char *value);

/* Client trace file of the whole process, reopened (truncated) at once. */
const char *flom_handle_get_trace_filename(const flom_handle_t *handle);
int flom_handle_set_trace_filename(flom_handle_t *handle, const char *value);

const char *flom_handle_get_unicast_address(const flom_handle_t *handle);
int flom_handle_set_unicast_address(flom_handle_t *handle, const char *value);
int flom_handle_get_unicast_port(const flom_handle_t *handle);
int flom_handle_set_unicast_port(flom_handle_t *handle, int value);

/* PEM files, stored as canonical paths (FLOM_RC_REALPATH_ERROR if missing). */
const char *flom_handle_get_tls_certificate(const flom_handle_t *handle);
int flom_handle_set_tls_certificate(flom_handle_t *handle, const char *value);
const char *flom_handle_get_tls_private_key(const flom_handle_t *handle);
int flom_handle_set_tls_private_key(flom_handle_t *handle, const char *value);
const char *flom_handle_get_tls_ca_certificate(const flom_handle_t *handle);
int flom_handle_set_tls_ca_certificate(flom_handle_t *handle,
                                       const char *value);
int flom_handle_get_tls_check_peer_id(const flom_handle_t *handle);
int flom_handle_set_tls_check_peer_id(flom_handle_t *handle, int value);

#ifdef __cplusplus
}
#endif

#endif /* FLOM_HANDLE_H */
