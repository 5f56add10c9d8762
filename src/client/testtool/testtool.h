/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* bootgate-unlock-test: test drivers over the client's code (debug.c), one
 * command each. Built beside bootgate-unlock, never installed and never in
 * an initramfs: `activate` prints a recovered credential secret. */

#include "client.h"

int testtool_keys(client_opts *o, int argc, char **argv);
int testtool_quote(client_opts *o, int argc, char **argv);
int testtool_activate(client_opts *o, int argc, char **argv);
int testtool_luks(client_opts *o, int argc, char **argv);
int testtool_http(client_opts *o, int argc, char **argv);
