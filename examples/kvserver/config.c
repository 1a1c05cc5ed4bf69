/*
 * config.c: parsing kvserver.conf and answering CONFIG GET (see config.h). Nothing here is
 * shared: a kv_config is built by one thread and immutable once published.
 */
#define _GNU_SOURCE
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kv_config_defaults(kv_config *c)
{
    memset(c, 0, sizeof(*c));
    strcpy(c->name, "kvserver");
    c->max_request = 1048576;
    c->max_output = 4194304;
}

static int parse_size(const char *s, size_t lo, size_t hi, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || *s == '-' || v < lo || v > hi)
        return -1;
    *out = (size_t)v;
    return 0;
}

int kv_config_parse_file(const char *path, kv_config *c, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[512];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash != NULL)
            *hash = '\0';
        char key[64], value[256], extra[2];
        int n = sscanf(line, "%63s %255s %1s", key, value, extra);
        if (n <= 0)
            continue; /* blank or comment */
        if (n != 2) {
            snprintf(err, errlen, "%s:%d: expected \"key value\"", path, lineno);
            rc = -1;
        } else if (strcmp(key, "name") == 0) {
            if (strlen(value) >= sizeof(c->name)) {
                snprintf(err, errlen, "%s:%d: name longer than %zu bytes", path, lineno,
                         sizeof(c->name) - 1);
                rc = -1;
            } else {
                strcpy(c->name, value);
            }
        } else if (strcmp(key, "max-request-bytes") == 0) {
            if (parse_size(value, 64, (size_t)512 << 20, &c->max_request) != 0) {
                snprintf(err, errlen, "%s:%d: max-request-bytes must be 64..536870912", path,
                         lineno);
                rc = -1;
            }
        } else if (strcmp(key, "max-output-bytes") == 0) {
            if (parse_size(value, 1024, (size_t)1 << 30, &c->max_output) != 0) {
                snprintf(err, errlen, "%s:%d: max-output-bytes must be 1024..1073741824", path,
                         lineno);
                rc = -1;
            }
        } else {
            snprintf(err, errlen, "%s:%d: unknown key '%s'", path, lineno, key);
            rc = -1;
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        rc = -1;
    }
    fclose(f);
    return rc;
}

void kv_config_get(const kv_config *c, const kv_arg *pattern, kv_out *out)
{
    char pat[128];
    size_t n = pattern->len < sizeof(pat) - 1 ? pattern->len : sizeof(pat) - 1;
    memcpy(pat, pattern->p, n);
    pat[n] = '\0';
    char nums[5][32];
    snprintf(nums[0], sizeof(nums[0]), "%zu", c->max_request);
    snprintf(nums[1], sizeof(nums[1]), "%zu", c->max_output);
    snprintf(nums[2], sizeof(nums[2]), "%d", c->port);
    snprintf(nums[3], sizeof(nums[3]), "%d", c->workers);
    snprintf(nums[4], sizeof(nums[4]), "%lu", c->generation);
    /* save and appendonly: kvserver keeps nothing on disk (redis-benchmark asks for them). */
    const char *params[][2] = {
        {"name", c->name},          {"max-request-bytes", nums[0]},
        {"max-output-bytes", nums[1]}, {"port", nums[2]},
        {"workers", nums[3]},       {"config-generation", nums[4]},
        {"bind", "127.0.0.1"},      {"save", ""},
        {"appendonly", "no"},
    };
    size_t count = sizeof(params) / sizeof(params[0]);
    int matches = 0;
    for (size_t i = 0; i < count; i++)
        matches += fnmatch(pat, params[i][0], FNM_CASEFOLD) == 0;
    kv_out_array(out, 2 * matches);
    for (size_t i = 0; i < count; i++) {
        if (fnmatch(pat, params[i][0], FNM_CASEFOLD) != 0)
            continue;
        kv_out_bulk(out, params[i][0], strlen(params[i][0]));
        kv_out_bulk(out, params[i][1], strlen(params[i][1]));
    }
}
