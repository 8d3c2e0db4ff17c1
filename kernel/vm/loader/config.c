/* Parsing of a guest module's command line into struct guest_config. Pure logic. */
#include "kernel/vm/loader/config.h"
#include "kernel/options.h"
#include "kernel/printf.h"
#include "kernel/string.h"

bool guest_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > GUEST_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* The default name: the path's file name without its extension, if that is a valid name. */
static void name_from_path(const char *path, char *name)
{
    const char *base = path;
    for (const char *p = path; *p; p++)
        if (*p == '/')
            base = p + 1;
    size_t n = 0;
    while (base[n] && base[n] != '.' && n < GUEST_NAME_MAX)
        n++;
    memcpy(name, base, n);
    name[n] = '\0';
    if (!guest_name_valid(name))
        strcpy(name, "module");
}

/* peers=a,b,c: the names, each valid, at most GUEST_PEERS_MAX, none twice. -1 if bad. */
static int parse_peers(const char *value, struct guest_config *cfg)
{
    cfg->n_peers = 0;
    if (!value || !*value)
        return -1;
    for (const char *p = value;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0 || n > GUEST_NAME_MAX || cfg->n_peers == GUEST_PEERS_MAX)
            return -1;
        char *name = cfg->peers[cfg->n_peers];
        memcpy(name, p, n);
        name[n] = '\0';
        if (!guest_name_valid(name))
            return -1;
        for (unsigned i = 0; i < cfg->n_peers; i++)
            if (strcmp(cfg->peers[i], name) == 0)
                return -1;
        cfg->n_peers++;
        if (!end)
            return 0;
        p = end + 1;
    }
}

int guest_config_parse(const char *line, struct guest_config *cfg, char *why, size_t why_size)
{
    char tok[OPT_TOKEN_MAX];
    const char *p = line;
    bool named = false;
    int rc = 0;

    memset(cfg, 0, sizeof *cfg);
    strcpy(cfg->name, "module");
    cfg->mem = GUEST_MEM_DEFAULT;
    cfg->on_crash = ON_CRASH_STOP;
    why[0] = '\0';

    bool first = true;
    while (opt_next_token(&p, tok, sizeof tok)) {
        if (strcmp(tok, "--") == 0) {
            while (*p == ' ' || *p == '\t')
                p++;
            size_t n = strlen(p);
            if (n >= sizeof cfg->cmdline) {
                if (!rc)
                    snprintf(why, why_size, "guest command line longer than %zu bytes", sizeof cfg->cmdline - 1);
                rc = -1;
                n = sizeof cfg->cmdline - 1;
            }
            memcpy(cfg->cmdline, p, n);
            cfg->cmdline[n] = '\0';
            break;
        }
        char *value;
        if (first && !strchr(tok, '=')) {   /* the module's path, when the loader passes it */
            first = false;
            size_t n = strnlen(tok, sizeof cfg->path - 1);
            memcpy(cfg->path, tok, n);
            cfg->path[n] = '\0';
            if (!named)
                name_from_path(cfg->path, cfg->name);
            continue;
        }
        first = false;
        opt_split(tok, &value);
        const char *problem = NULL;
        if (strcmp(tok, "name") == 0) {
            if (!value || !guest_name_valid(value))
                problem = "bad name (1 to 16 of a-z 0-9 _ -)";
            else {
                strcpy(cfg->name, value);
                named = true;
            }
        } else if (strcmp(tok, "mem") == 0) {
            uint64_t bytes;
            if (!value || opt_parse_size(value, &bytes) < 0 || bytes < GUEST_MEM_MIN ||
                bytes > GUEST_MEM_MAX || (bytes & 0xFFF))
                problem = "bad mem (a size like 16M, from 2M to 1G)";
            else
                cfg->mem = bytes;
        } else if (strcmp(tok, "on_crash") == 0) {
            if (value && strcmp(value, "stop") == 0)
                cfg->on_crash = ON_CRASH_STOP;
            else if (value && strcmp(value, "restart") == 0)
                cfg->on_crash = ON_CRASH_RESTART;
            else
                problem = "bad on_crash (stop or restart)";
        } else if (strcmp(tok, "on_bad_access") == 0) {
            if (value && strcmp(value, "ignore") == 0)
                cfg->on_bad_access = BAD_ACCESS_IGNORE;
            else if (value && strcmp(value, "crash") == 0)
                cfg->on_bad_access = BAD_ACCESS_CRASH;
            else
                problem = "bad on_bad_access (ignore or crash)";
        } else if (strcmp(tok, "kind") == 0) {
            if (value && strcmp(value, "linux") == 0)
                cfg->kind = KIND_LINUX;
            else if (value && strcmp(value, "multiboot") == 0)
                cfg->kind = KIND_MULTIBOOT;
            else
                problem = "bad kind (linux or multiboot)";
        } else if (strcmp(tok, "testdev") == 0) {
            if (value && strcmp(value, "on") == 0)
                cfg->testdev = true;
            else if (value && strcmp(value, "off") == 0)
                cfg->testdev = false;
            else
                problem = "bad testdev (on or off)";
        } else if (strcmp(tok, "pv") == 0) {
            if (value && strcmp(value, "on") == 0)
                cfg->pv_off = false;
            else if (value && strcmp(value, "off") == 0)
                cfg->pv_off = true;
            else
                problem = "bad pv (on or off)";
        } else if (strcmp(tok, "peers") == 0) {
            if (parse_peers(value, cfg) < 0)
                problem = "bad peers (up to 8 guest names, comma-separated)";
        } else if (strcmp(tok, "for") == 0) {
            if (!value || !guest_name_valid(value))
                problem = "bad for (the name of a guest)";
            else
                strcpy(cfg->for_guest, value);
        } else {
            problem = "unknown option";
        }
        if (problem && !rc) {
            if (value)
                snprintf(why, why_size, "%s: \"%s=%s\"", problem, tok, value);
            else
                snprintf(why, why_size, "%s: \"%s\"", problem, tok);
            rc = -1;
        }
    }
    if (!rc && cfg->for_guest[0] && (named || cfg->kind != KIND_AUTO || cfg->mem != GUEST_MEM_DEFAULT ||
                                     cfg->on_crash != ON_CRASH_STOP ||
                                     cfg->on_bad_access != BAD_ACCESS_IGNORE || cfg->testdev ||
                                     cfg->pv_off || cfg->n_peers)) {
        snprintf(why, why_size, "a module for=%s takes no other option (name=, mem=, kind=, on_crash=, "
                 "on_bad_access=, testdev=, pv=, peers=)",
                 cfg->for_guest);
        rc = -1;
    }
    return rc;
}
