// cpp_test SOCKET: the C++ interface (FlomHandle.hh) against the daemon on
// SOCKET: a handle on the stack and one on the heap lock the same set,
// getters and setters, the exception type.
#include <iostream>
#include <string>
#include "flom.hh"

static int check(const char *what, int rc)
{
    std::cout << what << " = " << rc << std::endl;
    return rc;
}

int main(int argc, char *argv[])
{
    if (argc != 2) {
        std::cerr << "usage: cpp_test SOCKET" << std::endl;
        return 2;
    }
    try {
        flom::FlomHandle stat;
        flom::FlomHandle *dyn = new flom::FlomHandle();
        std::cout << "getNetworkInterface() = '" << stat.getNetworkInterface() << "'" << std::endl;
        std::cout << "getUnicastAddress() = '" << stat.getUnicastAddress() << "'" << std::endl;
        std::cout << "getResourceName() = '" << stat.getResourceName() << "'" << std::endl;
        std::cout << "getLockMode() = " << stat.getLockMode() << std::endl;
        std::cout << "getResourceTimeout() = " << stat.getResourceTimeout() << std::endl;
        check("setSocketName(string)", stat.setSocketName(std::string(argv[1])));
        check("setSocketName(char*)", dyn->setSocketName(argv[1]));
        check("setResourceName", stat.setResourceName("red.blue.green"));
        check("setResourceName", dyn->setResourceName(std::string("red.blue.green")));
        check("setResourceQuantity(-2)", stat.setResourceQuantity(-2));
        std::cout << "getResourceQuantity() = " << stat.getResourceQuantity() << std::endl;
        check("setLockMode", stat.setLockMode(FLOM_LOCK_MODE_PW));
        check("stat.lock", stat.lock());
        std::cout << "stat element = " << stat.getLockedElement() << std::endl;
        check("dyn.lock", dyn->lock());
        const char *element = dyn->getLockedElementAsCStr();
        std::cout << "dyn element = " << (element != NULL ? element : "(null)") << std::endl;
        check("setSocketName while locked", stat.setSocketName("/tmp/x"));
        check("dyn.unlock", dyn->unlock());
        std::cout << "dyn element after unlock = '" << dyn->getLockedElement() << "'" << std::endl;
        check("stat.unlockRollback", stat.unlockRollback());
        delete dyn;
    } catch (flom::FlomException &e) {
        std::cout << "exception " << e.getReturnCode() << ": " << e.getReturnCodeText() << std::endl;
        return 1;
    }
    flom::FlomException e(FLOM_RC_API_INVALID_SEQUENCE);
    std::exception &any = e;
    std::cout << "FlomException(-17).what() = " << any.what() << std::endl;
    std::cout << "done" << std::endl;
    return 0;
}
