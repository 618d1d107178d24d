/* smtoken wire protocol: numbers and caps.  The prose contract is proto/PROTOCOL.md. */
#ifndef SMT_PROTO_H
#define SMT_PROTO_H

#define SMT_PROTO_VERSION 1

/* Frame: u32 length (big-endian, counts the bytes after itself) | u8 version | u8 type | body */
#define SMT_FRAME_HEADER 4
#define SMT_FRAME_MAX    (256 * 1024) /* largest length value accepted, either direction */
#define SMT_REQUEST_MAX  (64 * 1024)  /* largest request the agent reads */

#define SMT_STRING_MAX   (96 * 1024) /* any one string field */
#define SMT_NAME_LEN_MAX 64          /* endpoint / profile names */
#define SMT_LIST_MAX     256         /* entries in a LIST reply */
#define SMT_SHORT_MAX    256         /* region, credential source, access key id, secret key */
#define SMT_TEXT_MAX     4096        /* failure message and hint, last_error */
#define SMT_URL_MAX      8192        /* base_url */

/* Requests (client -> agent) */
enum {
    SMT_MSG_GET_TOKEN = 1,    /* string name ("" = default) */
    SMT_MSG_LIST = 2,         /* empty */
    SMT_MSG_ADD_CREDS = 3,    /* string profile, string ak, string sk, string st, u64 expiration */
    SMT_MSG_REMOVE_CREDS = 4, /* string profile */
    SMT_MSG_RELOAD = 5,       /* empty */
};

/* Replies (agent -> client) */
enum {
    SMT_MSG_SUCCESS = 128, /* empty */
    SMT_MSG_FAILURE = 129, /* u32 code, string message, string hint */
    SMT_MSG_VERSION = 130, /* u8 agent's version: sent (with version byte = the agent's) when the
                              request's version byte differs */
    SMT_MSG_TOKEN = 131,   /* see msg.h struct smt_msg_token */
    SMT_MSG_LIST_REPLY = 132,
};

/* Failure codes in SMT_MSG_FAILURE (stable on the wire; not the internal SMT_ERR_* numbers) */
enum {
    SMT_FAIL_GENERIC = 1,
    SMT_FAIL_BAD_REQUEST = 2,
    SMT_FAIL_UNKNOWN_ENDPOINT = 3,
    SMT_FAIL_CREDENTIALS = 4,
    SMT_FAIL_EXPIRED = 5,
    SMT_FAIL_CONFIG = 6,
    SMT_FAIL_UNSUPPORTED = 7,
    SMT_FAIL_BUSY = 8,
};

#endif
