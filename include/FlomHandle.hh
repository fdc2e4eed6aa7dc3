/*
 * FlomHandle.hh - C++ interface of the FLoM C API (header only, inline).
 * Part of the Rust implementation of FLoM, the Free LOck Manager.
 * License: GPL-2.0-only.
 *
 *     flom::FlomHandle h;              // throws flom::FlomException
 *     h.setResourceName("red.green.blue");
 *     if (h.lock() == FLOM_RC_OK) { use(h.getLockedElement()); h.unlock(); }
 *
 * String getters return "" where the C function returns NULL; the
 * ...AsCStr() variants return the C pointer itself. The destructor cleans
 * the handle (unlocking it if needed).
 *
 * Like the header of C FLoM, this one makes namespace std visible, so
 * programs written against it compile unchanged; define
 * FLOM_NO_USING_NAMESPACE_STD before including it to avoid that.
 */
#ifndef FLOMHANDLE_HH
#define FLOMHANDLE_HH

#include <exception>
#include <string>
#include <syslog.h>

#include "flom_errors.h"
#include "flom_types.h"
#include "flom_handle.h"

#ifndef FLOM_NO_USING_NAMESPACE_STD
using namespace std;
#endif

namespace flom {

    /* A failed handle initialisation: the return code and its text. */
    class FlomException : public std::exception {
    public:
        FlomException(int ret_cod) : ReturnCode(ret_cod) {}
        virtual const char *what() const throw() {
            return flom_strerror(ReturnCode); }
        int getReturnCode() const { return ReturnCode; }
        std::string getReturnCodeText() const {
            return std::string(flom_strerror(ReturnCode)); }
    private:
        int ReturnCode;
    };

    /* A lock handle: flom_handle_t with its functions as methods. */
    class FlomHandle {
    public:
        FlomHandle() {
            int rc = flom_handle_init(&handle);
            if (rc != FLOM_RC_OK) {
                syslog(LOG_ERR, "FlomHandle: flom_handle_init failed, "
                       "ret_cod=%d (%s)", rc, flom_strerror(rc));
                throw FlomException(rc);
            }
        }
        ~FlomHandle() {
            int rc = flom_handle_clean(&handle);
            if (rc != FLOM_RC_OK)
                syslog(LOG_ERR, "~FlomHandle: flom_handle_clean failed, "
                       "ret_cod=%d (%s)", rc, flom_strerror(rc));
        }

        int lock() { return flom_handle_lock(&handle); }
        int unlock() { return flom_handle_unlock(&handle); }
        int unlockRollback() { return flom_handle_unlock_rollback(&handle); }

        const char *getLockedElementAsCStr() const {
            return flom_handle_get_locked_element(&handle); }
        std::string getLockedElement() const {
            return str(getLockedElementAsCStr()); }

        int getDiscoveryAttempts() const { return flom_handle_get_discovery_attempts(&handle); }
        int setDiscoveryAttempts(int value) { return flom_handle_set_discovery_attempts(&handle, value); }

        int getDiscoveryTimeout() const { return flom_handle_get_discovery_timeout(&handle); }
        int setDiscoveryTimeout(int value) { return flom_handle_set_discovery_timeout(&handle, value); }

        int getDiscoveryTtl() const { return flom_handle_get_discovery_ttl(&handle); }
        int setDiscoveryTtl(int value) { return flom_handle_set_discovery_ttl(&handle, value); }

        flom_lock_mode_t getLockMode() const {
            return flom_handle_get_lock_mode(&handle); }
        int setLockMode(flom_lock_mode_t value) {
            return flom_handle_set_lock_mode(&handle, value); }

        const char *getMulticastAddressAsCStr() const {
            return flom_handle_get_multicast_address(&handle); }
        std::string getMulticastAddress() const { return str(getMulticastAddressAsCStr()); }
        int setMulticastAddress(const char *value) {
            return flom_handle_set_multicast_address(&handle, value); }
        int setMulticastAddress(const std::string &value) {
            return flom_handle_set_multicast_address(&handle, value.c_str()); }

        int getMulticastPort() const { return flom_handle_get_multicast_port(&handle); }
        int setMulticastPort(int value) { return flom_handle_set_multicast_port(&handle, value); }

        const char *getNetworkInterfaceAsCStr() const {
            return flom_handle_get_network_interface(&handle); }
        std::string getNetworkInterface() const { return str(getNetworkInterfaceAsCStr()); }
        int setNetworkInterface(const char *value) {
            return flom_handle_set_network_interface(&handle, value); }
        int setNetworkInterface(const std::string &value) {
            return flom_handle_set_network_interface(&handle, value.c_str()); }

        int getResourceCreate() const { return flom_handle_get_resource_create(&handle); }
        int setResourceCreate(int value) { return flom_handle_set_resource_create(&handle, value); }

        int getResourceIdleLifespan() const { return flom_handle_get_resource_idle_lifespan(&handle); }
        int setResourceIdleLifespan(int value) { return flom_handle_set_resource_idle_lifespan(&handle, value); }

        const char *getResourceNameAsCStr() const {
            return flom_handle_get_resource_name(&handle); }
        std::string getResourceName() const { return str(getResourceNameAsCStr()); }
        int setResourceName(const char *value) {
            return flom_handle_set_resource_name(&handle, value); }
        int setResourceName(const std::string &value) {
            return flom_handle_set_resource_name(&handle, value.c_str()); }

        int getResourceQuantity() const { return flom_handle_get_resource_quantity(&handle); }
        int setResourceQuantity(int value) { return flom_handle_set_resource_quantity(&handle, value); }

        int getResourceTimeout() const { return flom_handle_get_resource_timeout(&handle); }
        int setResourceTimeout(int value) { return flom_handle_set_resource_timeout(&handle, value); }

        const char *getSocketNameAsCStr() const {
            return flom_handle_get_socket_name(&handle); }
        std::string getSocketName() const { return str(getSocketNameAsCStr()); }
        int setSocketName(const char *value) {
            return flom_handle_set_socket_name(&handle, value); }
        int setSocketName(const std::string &value) {
            return flom_handle_set_socket_name(&handle, value.c_str()); }

        const char *getTraceFilenameAsCStr() const {
            return flom_handle_get_trace_filename(&handle); }
        std::string getTraceFilename() const { return str(getTraceFilenameAsCStr()); }
        int setTraceFilename(const char *value) {
            return flom_handle_set_trace_filename(&handle, value); }
        int setTraceFilename(const std::string &value) {
            return flom_handle_set_trace_filename(&handle, value.c_str()); }

        const char *getUnicastAddressAsCStr() const {
            return flom_handle_get_unicast_address(&handle); }
        std::string getUnicastAddress() const { return str(getUnicastAddressAsCStr()); }
        int setUnicastAddress(const char *value) {
            return flom_handle_set_unicast_address(&handle, value); }
        int setUnicastAddress(const std::string &value) {
            return flom_handle_set_unicast_address(&handle, value.c_str()); }

        int getUnicastPort() const { return flom_handle_get_unicast_port(&handle); }
        int setUnicastPort(int value) { return flom_handle_set_unicast_port(&handle, value); }

        const char *getTlsCertificateAsCStr() const {
            return flom_handle_get_tls_certificate(&handle); }
        std::string getTlsCertificate() const { return str(getTlsCertificateAsCStr()); }
        int setTlsCertificate(const char *value) {
            return flom_handle_set_tls_certificate(&handle, value); }
        int setTlsCertificate(const std::string &value) {
            return flom_handle_set_tls_certificate(&handle, value.c_str()); }

        const char *getTlsPrivateKeyAsCStr() const {
            return flom_handle_get_tls_private_key(&handle); }
        std::string getTlsPrivateKey() const { return str(getTlsPrivateKeyAsCStr()); }
        int setTlsPrivateKey(const char *value) {
            return flom_handle_set_tls_private_key(&handle, value); }
        int setTlsPrivateKey(const std::string &value) {
            return flom_handle_set_tls_private_key(&handle, value.c_str()); }

        const char *getTlsCaCertificateAsCStr() const {
            return flom_handle_get_tls_ca_certificate(&handle); }
        std::string getTlsCaCertificate() const { return str(getTlsCaCertificateAsCStr()); }
        int setTlsCaCertificate(const char *value) {
            return flom_handle_set_tls_ca_certificate(&handle, value); }
        int setTlsCaCertificate(const std::string &value) {
            return flom_handle_set_tls_ca_certificate(&handle, value.c_str()); }

        int getTlsCheckPeerId() const { return flom_handle_get_tls_check_peer_id(&handle); }
        int setTlsCheckPeerId(int value) { return flom_handle_set_tls_check_peer_id(&handle, value); }

    private:
        flom_handle_t handle;
        static std::string str(const char *s) {
            return s != NULL ? std::string(s) : std::string(); }
    };

} /* namespace flom */

#endif /* FLOMHANDLE_HH */
