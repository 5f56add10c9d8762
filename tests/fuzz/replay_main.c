/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Replays a libFuzzer corpus without libFuzzer: every file in the given
 * directories (or the files themselves) is fed once to the harness. Used by
 * ctest so that the corpus is a regression suite on every build. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    uint8_t *buf = NULL;
    size_t size = 0;
    bg_err err = {0};
    if (read_file(path, 64u << 20, &buf, &size, &err) < 0) {
        fprintf(stderr, "%s\n", bg_err_msg(&err));
        return -1;
    }
    LLVMFuzzerTestOneInput(buf, size);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned n = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "cannot stat %s\n", argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[i]) < 0)
                return 1;
            n++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        struct dirent *de;
        if (!d)
            return 1;
        while ((de = readdir(d))) {
            char path[4096];
            if (de->d_name[0] == '.')
                continue;
            snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
            if (run_file(path) < 0) {
                closedir(d);
                return 1;
            }
            n++;
        }
        closedir(d);
    }
    printf("replayed %u inputs\n", n);
    /* A corpus that is empty proves nothing. */
    return n > 0 ? 0 : 1;
}
