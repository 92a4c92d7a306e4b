/*
 * The random stream of a Borromean range-proof prover, replayed in C (optional extension of
 * lwk_core; lwk_core/_rangeproof.py falls back to the same computation in Python).
 *
 * The stream is libsecp256k1's RFC 6979 HMAC-SHA256 generator (src/hash_impl.h:
 * secp256k1_rfc6979_hmac_sha256_initialize and _generate, after RFC 6979 section 3.2 steps
 * b-h), HMAC as in RFC 2104 with a 32-byte key zero-padded to SHA-256's 64-byte block.
 * secp256k1-zkp's secp256k1_rangeproof_genrand (src/modules/rangeproof/rangeproof_impl.h)
 * draws from it, ring by ring: one discarded draw, then draws until one is a scalar in
 * [1, n) (the ring's blinding share), then one draw per ring member.
 *
 * SHA-256 is OpenSSL's libcrypto, through its low-level SHA256_CTX interface: a key's two
 * padded blocks are absorbed once and the states copied for every HMAC under that key.
 */

#define PY_SSIZE_T_CLEAN
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init and friends: deprecated, not removed */

#include <Python.h>
#include <openssl/sha.h>
#include <string.h>

/* The order n of secp256k1's group, big-endian (SEC 2, section 2.4.1). */
static const unsigned char ORDER[32] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE,
    0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48, 0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41,
};

#define MAX_RINGS 32 /* a 64-bit mantissa: 32 rings of at most 4 members */
#define MAX_RING_SIZE 4

/* An HMAC-SHA256 key: SHA-256 states with (key ^ ipad) and (key ^ opad) absorbed. */
typedef struct {
    SHA256_CTX inner;
    SHA256_CTX outer;
} hmac_key;

static void hmac_set_key(hmac_key *h, const unsigned char key[32]) {
    unsigned char block[SHA256_CBLOCK];
    int i;
    memset(block, 0x36, sizeof block);
    for (i = 0; i < 32; i++) block[i] ^= key[i];
    SHA256_Init(&h->inner);
    SHA256_Update(&h->inner, block, sizeof block);
    memset(block, 0x5c, sizeof block);
    for (i = 0; i < 32; i++) block[i] ^= key[i];
    SHA256_Init(&h->outer);
    SHA256_Update(&h->outer, block, sizeof block);
}

/* out = HMAC(key, a || b || c); out may alias an input (the inputs are read first). */
static void hmac3(const hmac_key *h, const unsigned char *a, size_t a_len,
                  const unsigned char *b, size_t b_len, const unsigned char *c, size_t c_len,
                  unsigned char out[32]) {
    SHA256_CTX ctx = h->inner;
    SHA256_Update(&ctx, a, a_len);
    SHA256_Update(&ctx, b, b_len);
    SHA256_Update(&ctx, c, c_len);
    SHA256_Final(out, &ctx);
    ctx = h->outer;
    SHA256_Update(&ctx, out, 32);
    SHA256_Final(out, &ctx);
}

/* secp256k1_rfc6979_hmac_sha256: the key k, the value v, whether the next draw re-keys. */
typedef struct {
    hmac_key k;
    unsigned char v[32];
    int retry;
} rfc6979;

static void rfc6979_initialize(rfc6979 *r, const unsigned char *seed, size_t seed_len) {
    static const unsigned char zero[32];
    unsigned char key[32];
    unsigned char separator;
    memset(r->v, 0x01, 32);
    hmac_set_key(&r->k, zero);
    for (separator = 0; separator < 2; separator++) { /* k = HMAC(k, v || sep || seed) */
        hmac3(&r->k, r->v, 32, &separator, 1, seed, seed_len, key);
        hmac_set_key(&r->k, key);
        hmac3(&r->k, r->v, 32, NULL, 0, NULL, 0, r->v); /* v = HMAC(k, v) */
    }
    r->retry = 0;
}

/* One 32-byte output: from the second on, k = HMAC(k, v || 0) and v = HMAC(k, v) first. */
static void rfc6979_draw(rfc6979 *r, unsigned char out[32]) {
    static const unsigned char zero = 0;
    if (r->retry) {
        unsigned char key[32];
        hmac3(&r->k, r->v, 32, &zero, 1, NULL, 0, key);
        hmac_set_key(&r->k, key);
        hmac3(&r->k, r->v, 32, NULL, 0, NULL, 0, r->v);
    }
    hmac3(&r->k, r->v, 32, NULL, 0, NULL, 0, r->v);
    memcpy(out, r->v, 32);
    r->retry = 1;
}

/* 0 < x < n for a big-endian 32-byte x. */
static int is_scalar(const unsigned char x[32]) {
    int i, nonzero = 0;
    for (i = 0; i < 32; i++) nonzero |= x[i];
    return nonzero && memcmp(x, ORDER, 32) < 0;
}

/* shares (rings - 1 of them) then every member's draw, 32 bytes each, into out. */
static void replay(const unsigned char *seed, size_t seed_len, const unsigned char *sizes,
                   size_t rings, unsigned char *out) {
    rfc6979 r;
    unsigned char discarded[32];
    unsigned char *share = out, *draw = out + 32 * (rings - 1);
    size_t ring, member;
    rfc6979_initialize(&r, seed, seed_len);
    for (ring = 0; ring < rings; ring++) {
        if (ring < rings - 1) {
            rfc6979_draw(&r, discarded);
            do {
                rfc6979_draw(&r, share);
            } while (!is_scalar(share));
            share += 32;
        }
        for (member = 0; member < sizes[ring]; member++, draw += 32) rfc6979_draw(&r, draw);
    }
}

static PyObject *prover_draws(PyObject *module, PyObject *args) {
    const unsigned char *seed, *sizes;
    Py_ssize_t seed_len, rings, i, members = 0;
    PyObject *result;
    (void)module;
    if (!PyArg_ParseTuple(args, "y#y#:prover_draws", &seed, &seed_len, &sizes, &rings)) {
        return NULL;
    }
    if (rings < 1 || rings > MAX_RINGS) {
        PyErr_SetString(PyExc_ValueError, "a proof has 1 to 32 rings");
        return NULL;
    }
    for (i = 0; i < rings; i++) {
        if (sizes[i] < 1 || sizes[i] > MAX_RING_SIZE) {
            PyErr_SetString(PyExc_ValueError, "a ring has 1 to 4 members");
            return NULL;
        }
        members += sizes[i];
    }
    result = PyBytes_FromStringAndSize(NULL, 32 * (rings - 1 + members));
    if (result == NULL) return NULL;
    /* The arguments are immutable bytes the caller keeps alive; the result is not shared. */
    Py_BEGIN_ALLOW_THREADS
    replay(seed, (size_t)seed_len, sizes, (size_t)rings, (unsigned char *)PyBytes_AS_STRING(result));
    Py_END_ALLOW_THREADS
    return result;
}

static PyMethodDef methods[] = {
    {"prover_draws", prover_draws, METH_VARARGS,
     "prover_draws(seed, sizes) -> bytes\n\n"
     "The range-proof prover's random stream seeded with `seed`, for rings of `sizes[i]`\n"
     "members: every ring's blinding share but the last, then every member's draw, 32\n"
     "bytes each. Releases the GIL."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_prover_stream",
    .m_doc = "The range-proof prover's random stream in C (OpenSSL's SHA-256).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__prover_stream(void) { return PyModule_Create(&module_def); }
