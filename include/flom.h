/*
 * flom.h - the FLoM C API (libflom): include this one header.
 * Part of the Rust implementation of FLoM, the Free LOck Manager.
 * License: GPL-2.0-only.
 *
 * Build: cc prog.c $(pkg-config --cflags --libs flom)
 */
#ifndef FLOM_H
#define FLOM_H

#include "flom_errors.h"
#include "flom_types.h"
#include "flom_handle.h"

#endif /* FLOM_H */
