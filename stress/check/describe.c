/*
 * describe.c: words for operations, and the writer of the checks' explanations.
 *
 * Design
 * ------
 * Explanations go into a caller's fixed buffer. cask__text appends with vsnprintf, keeps the
 * text NUL-terminated after every append, and when the buffer fills, ends it with "..." so that
 * a cut explanation never looks complete. Nothing here allocates, so an explanation can still
 * be written after an allocation failure.
 *
 * Operation descriptions read like calls: "t1#7 dequeue() -> 5", "t0#2 insert(k=3, 9) -> EEXIST",
 * "t2#0 enqueue(4) -> ?" (no response). "tI#S" is the thread index and the position in that
 * thread's buffer, so a reader can find the operation in a dump of the history.
 *
 * Invariants: text->len < text->cap whenever cap > 0, and buf[len] == '\0'.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "stress/check/internal.h"

void cask__text_init(cask__text *text, char *buf, size_t cap)
{
    text->buf = cap > 0 ? buf : NULL;
    text->cap = text->buf != NULL ? cap : 0;
    text->len = 0;
    if (text->cap > 0)
        text->buf[0] = '\0';
}

void cask__text_printf(cask__text *text, const char *fmt, ...)
{
    if (text->cap == 0 || text->len + 1 >= text->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    size_t room = text->cap - text->len;
    int n = vsnprintf(text->buf + text->len, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < room) {
        text->len += (size_t)n;
        return;
    }
    /* Cut: the text now fills the buffer; mark the cut. */
    text->len = text->cap - 1;
    static const char more[] = "...";
    if (text->cap > sizeof(more))
        memcpy(text->buf + text->cap - sizeof(more), more, sizeof(more));
}

/* status_name - a word for a status, or NULL for statuses without one. */
static const char *status_name(int status)
{
    switch (status) {
    case 0:
        return "ok";
    case CASK_ENOMEM:
        return "ENOMEM";
    case CASK_EINVAL:
        return "EINVAL";
    case CASK_EEMPTY:
        return "EMPTY";
    case CASK_EFULL:
        return "EFULL";
    case -5:
        return "ECLOSED";
    case -6:
        return "EFROZEN";
    case CASK_EEXIST:
        return "EEXIST";
    case CASK_ENOENT:
        return "ENOENT";
    case -9:
        return "ETIMEDOUT";
    default:
        return NULL;
    }
}

/* result - writes " -> <result>" for op: its value when it returned one (status 0 and
 * has_value), else its status; "?" without a response; nothing when quiet_ok and it just
 * succeeded. */
static void result(const cask_op *op, bool has_value, bool quiet_ok, char *buf, size_t cap)
{
    const char *name = status_name(op->status);
    if (!op->responded)
        snprintf(buf, cap, " -> ?");
    else if (op->status == 0 && has_value)
        snprintf(buf, cap, " -> %" PRIu64, op->value);
    else if (op->status == 0 && quiet_ok)
        buf[0] = '\0';
    else if (name != NULL)
        snprintf(buf, cap, " -> %s", name);
    else
        snprintf(buf, cap, " -> status %d", op->status);
}

void cask_op_describe(const cask_op *op, char *buf, size_t cap)
{
    if (cap == 0)
        return;
    char res[48], key[32] = "", keyc[40] = "";
    if (op->key != 0) { /* key 0: a single register, say, needs no key */
        snprintf(key, sizeof(key), "k=%" PRIu64, op->key);
        snprintf(keyc, sizeof(keyc), "k=%" PRIu64 ", ", op->key);
    }
    int th = op->thread;
    unsigned seq = op->seq;
    switch (op->kind) {
    case CASK_OP_READ:
        result(op, true, false, res, sizeof(res));
        snprintf(buf, cap, "t%d#%u read(%s)%s", th, seq, key, res);
        break;
    case CASK_OP_WRITE:
        result(op, false, true, res, sizeof(res));
        snprintf(buf, cap, "t%d#%u write(%s%" PRIu64 ")%s", th, seq, keyc, op->arg, res);
        break;
    case CASK_OP_ENQUEUE:
        result(op, false, true, res, sizeof(res));
        snprintf(buf, cap, "t%d#%u enqueue(%" PRIu64 ")%s", th, seq, op->arg, res);
        break;
    case CASK_OP_DEQUEUE:
        result(op, true, false, res, sizeof(res));
        snprintf(buf, cap, "t%d#%u dequeue()%s", th, seq, res);
        break;
    case CASK_OP_INSERT:
        result(op, false, false, res, sizeof(res));
        snprintf(buf, cap, "t%d#%u insert(k=%" PRIu64 ", %" PRIu64 ")%s", th, seq, op->key,
                 op->arg, res);
        break;
    case CASK_OP_PUT:
        result(op, false, true, res, sizeof(res));
        snprintf(buf, cap, "t%d#%u put(k=%" PRIu64 ", %" PRIu64 ")%s", th, seq, op->key, op->arg,
                 res);
        break;
    case CASK_OP_LOOKUP:
        result(op, true, false, res, sizeof(res));
        snprintf(buf, cap, "t%d#%u lookup(k=%" PRIu64 ")%s", th, seq, op->key, res);
        break;
    case CASK_OP_REMOVE:
        result(op, false, false, res, sizeof(res));
        snprintf(buf, cap, "t%d#%u remove(k=%" PRIu64 ")%s", th, seq, op->key, res);
        break;
    case CASK_OP_PUSH:
        result(op, true, false, res, sizeof(res));
        snprintf(buf, cap, "t%d#%u push(%" PRIu64 ")%s", th, seq, op->arg, res);
        break;
    case CASK_OP_GET:
        result(op, true, false, res, sizeof(res));
        snprintf(buf, cap, "t%d#%u get(%" PRIu64 ")%s", th, seq, op->key, res);
        break;
    case CASK_OP_SET:
        result(op, false, false, res, sizeof(res));
        snprintf(buf, cap, "t%d#%u set(%" PRIu64 ", %" PRIu64 ")%s", th, seq, op->key, op->arg,
                 res);
        break;
    case CASK_OP_LENGTH:
        result(op, true, false, res, sizeof(res));
        snprintf(buf, cap, "t%d#%u length()%s", th, seq, res);
        break;
    default:
        if (!op->responded)
            snprintf(res, sizeof(res), " -> ?");
        else
            snprintf(res, sizeof(res), " -> (%" PRIu64 ", status %d)", op->value, op->status);
        snprintf(buf, cap, "t%d#%u op%d(k=%" PRIu64 ", %" PRIu64 ")%s", th, seq, op->kind,
                 op->key, op->arg, res);
        break;
    }
}

void cask__text_op(cask__text *text, const cask_op *op, uint64_t base_ns,
                   void (*describe)(const cask_op *op, char *buf, size_t cap), const char *suffix)
{
    char d[160];
    (describe != NULL ? describe : cask_op_describe)(op, d, sizeof(d));
    uint64_t inv = op->invoke_ns >= base_ns ? op->invoke_ns - base_ns : 0;
    if (op->responded && op->respond_ns != UINT64_MAX)
        cask__text_printf(text, "    %s  [+%" PRIu64 " .. +%" PRIu64 " ns]%s\n", d, inv,
                          op->respond_ns - base_ns, suffix != NULL ? suffix : "");
    else
        cask__text_printf(text, "    %s  [+%" PRIu64 " .. no response]%s\n", d, inv,
                          suffix != NULL ? suffix : "");
}
