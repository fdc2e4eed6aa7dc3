/*
 * flom.hh - the FLoM C++ interface: include this one header.
 * Part of the Rust implementation of FLoM, the Free LOck Manager.
 * License: GPL-2.0-only.
 */
#ifndef FLOM_HH
#define FLOM_HH

#include "flom_errors.h"
#include "flom_handle.h"
#include "flom_types.h"
#include "FlomHandle.hh"

#endif /* FLOM_HH */
