/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "client.h"

int client_unlock_main(client_opts *o, int argc, char **argv)
{
    client_msg(o, "unlock: not implemented yet (needs proto.h)");
    return CLIENT_EXIT_USAGE;
}
