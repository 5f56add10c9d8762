/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "eventlog.h"

/* Rewrites the reference's PCR 7 measurement of var ("db" or "dbx") for the
 * update in path (EFI signature list or authenticated variable update),
 * appended as the firmware does. *ret_data is the event's new data (free it
 * after the log is used). CTL_EXIT_* (the error names PCR 7). */
int sbvar_predict_update(eventlog *log, const char *var, const char *path, uint8_t **ret_data);
