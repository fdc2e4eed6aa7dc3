/*
 * flom_types.h - basic types of the FLoM C API (libflom).
 * Part of the Rust implementation of FLoM, the Free LOck Manager.
 * License: GPL-2.0-only.
 */
#ifndef FLOM_TYPES_H
#define FLOM_TYPES_H

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif

/* Lock modes, numbered as on the wire (VMS DLM names). */
typedef enum flom_lock_mode_e {
    FLOM_LOCK_MODE_NL,      /* 0: null lock */
    FLOM_LOCK_MODE_CR,      /* 1: concurrent read */
    FLOM_LOCK_MODE_CW,      /* 2: concurrent write */
    FLOM_LOCK_MODE_PR,      /* 3: protected read (shared) */
    FLOM_LOCK_MODE_PW,      /* 4: protected write (update) */
    FLOM_LOCK_MODE_EX,      /* 5: exclusive */
    FLOM_LOCK_MODE_N,       /* 6: how many modes there are */
    FLOM_LOCK_MODE_INVALID  /* 7: no valid mode */
} flom_lock_mode_t;

#endif /* FLOM_TYPES_H */
