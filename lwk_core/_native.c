/*
 * lwk_core's optional C extension (lwk_core/_unblind.py and _rangeproof.py fall back to the
 * same computations in Python when it was not built).
 *
 * 1. The random stream of a Borromean range-proof prover. It is libsecp256k1's RFC 6979
 *    HMAC-SHA256 generator (src/hash_impl.h: secp256k1_rfc6979_hmac_sha256_initialize and
 *    _generate, after RFC 6979 section 3.2 steps b-h), HMAC as in RFC 2104 with a 32-byte key
 *    zero-padded to SHA-256's 64-byte block. secp256k1-zkp's secp256k1_rangeproof_genrand
 *    (src/modules/rangeproof/rangeproof_impl.h) draws from it, ring by ring: one discarded
 *    draw, then draws until one is a scalar in [1, n) (the ring's blinding share), then one
 *    draw per ring member. SHA-256 is OpenSSL's libcrypto, through its low-level SHA256_CTX
 *    interface: a key's two padded blocks are absorbed once and the states copied for every
 *    HMAC under that key.
 *
 * 2. The whole unblinding of one output (`unblind`): the ECDH nonce, the opening of the range
 *    proof without verifying it, and the checks that the secrets found open the output's
 *    value and asset commitments: what lwk_core/_unblind.py and _rangeproof.py do, step for
 *    step and with the same outcomes (their docstrings give the sources and why the checks
 *    make skipping the proof's verification sound). Points are handled by the
 *    libsecp256k1-zkp that embit ships, through its public API only (`load` resolves the
 *    functions once by name); scalars mod n and the one Legendre symbol per point compared
 *    are OpenSSL BIGNUM arithmetic.
 */

#define PY_SSIZE_T_CLEAN
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init and friends: deprecated, not removed */

#include <Python.h>
#include <dlfcn.h>
#include <openssl/bn.h>
#include <openssl/sha.h>
#include <stdint.h>
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

/* ---- 2. unblinding one output ------------------------------------------------------------ */

/* The opaque types of libsecp256k1(-zkp)'s public API, each 64 bytes (include/secp256k1.h,
 * secp256k1_generator.h); only the library reads them. */
typedef struct {
    unsigned char data[64];
} zkp_pubkey;
typedef struct {
    unsigned char data[64];
} zkp_generator;
typedef struct {
    unsigned char data[64];
} zkp_commitment;

#define CONTEXT_SIGN_VERIFY 0x0301 /* SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY */
#define EC_COMPRESSED 0x0102      /* SECP256K1_EC_COMPRESSED */
#define EC_UNCOMPRESSED 0x0002    /* SECP256K1_EC_UNCOMPRESSED */
#define GENERATOR_SQUARE_Y 0x0a   /* a generator's first byte when y is a square mod p */
#define COMMITMENT_TAG 0x08       /* a commitment's first byte when y is a square mod p */

/* The library's functions we call, with their documented signatures; ctx once `load`ed. */
static struct {
    void *ctx;
    void *(*context_create)(unsigned int flags);
    int (*context_randomize)(void *ctx, const unsigned char *seed32);
    int (*pubkey_parse)(const void *ctx, zkp_pubkey *out, const unsigned char *in, size_t len);
    int (*pubkey_serialize)(const void *ctx, unsigned char *out, size_t *len,
                            const zkp_pubkey *key, unsigned int flags);
    int (*pubkey_create)(const void *ctx, zkp_pubkey *out, const unsigned char *seckey);
    int (*pubkey_negate)(const void *ctx, zkp_pubkey *key);
    int (*pubkey_tweak_mul)(const void *ctx, zkp_pubkey *key, const unsigned char *tweak);
    int (*pubkey_combine)(const void *ctx, zkp_pubkey *out, const zkp_pubkey *const *ins,
                          size_t n);
    int (*ecdh)(const void *ctx, unsigned char *out, const zkp_pubkey *point,
                const unsigned char *scalar, void *hashfp, void *data);
    int (*generator_parse)(const void *ctx, zkp_generator *out, const unsigned char *in);
    int (*generator_serialize)(const void *ctx, unsigned char *out, const zkp_generator *gen);
    int (*generator_generate)(const void *ctx, zkp_generator *out, const unsigned char *key32);
    int (*commitment_parse)(const void *ctx, zkp_commitment *out, const unsigned char *in);
    int (*commitment_serialize)(const void *ctx, unsigned char *out, const zkp_commitment *in);
    int (*pedersen_commit)(const void *ctx, zkp_commitment *out, const unsigned char *blind,
                           uint64_t value, const zkp_generator *gen);
} zkp;

/* The field prime p and the group order n, as BIGNUMs (read-only once `load`ed). */
static BIGNUM *field_p, *order_n;

/* Outcomes: 0 is found; the others are the codes lwk_core/_unblind.py turns into its
 * NotCovered path or its UnblindError messages (_NATIVE_OUTCOMES, in this order). */
enum {
    FOUND = 0,
    NOT_COVERED,
    BAD_NONCE,
    BAD_KEY,
    BAD_ASSET_COMMITMENT,
    BAD_VALUE_COMMITMENT,
    BAD_HEADER,
    WRONG_LENGTH,
    BAD_SIGN_BITS,
    NOT_REWOUND,
    SCALAR_RANGE,
    NOT_ON_CURVE,
    SUM_INFINITY,
    BAD_ASSET_BLINDER,
    ASSET_MISMATCH,
    NO_MEMORY,
};

#define MAX_MEMBERS (MAX_RINGS * MAX_RING_SIZE)
#define MAX_HEADER 10

/* The fields of a Borromean range proof (secp256k1_rangeproof_getheader_impl and the layout
 * of secp256k1_rangeproof_verify_impl), pointing into the proof. */
typedef struct {
    const unsigned char *header;
    size_t header_len;
    uint64_t scale, min_value;
    size_t rings;
    unsigned char sizes[MAX_RINGS];
    unsigned char sign_bits[MAX_RINGS]; /* per ring commitment but the last: y not a square */
    const unsigned char *xs;            /* x of every ring commitment but the last */
    const unsigned char *e0;
    const unsigned char *s; /* every member's response, 32 bytes each */
} proof_fields;

static uint64_t read_be64(const unsigned char *b) {
    uint64_t v = 0;
    int i;
    for (i = 0; i < 8; i++) v = (v << 8) | b[i];
    return v;
}

static int read_proof(const unsigned char *proof, size_t len, proof_fields *p) {
    size_t offset = 2, mantissa, rings, members = 0, sign_len, i, odd;
    unsigned exp;
    uint64_t top_digits, product, sum;
    if (len < 65 || proof[0] & 0x80) return BAD_HEADER;
    if (!(proof[0] & 0x40)) return NOT_COVERED; /* an exact-value proof */
    exp = proof[0] & 0x1f;
    mantissa = (size_t)proof[1] + 1;
    p->min_value = 0;
    if (proof[0] & 0x20) {
        p->min_value = read_be64(proof + 2);
        offset = 10;
    }
    if (exp > 18 || mantissa > 64) return BAD_HEADER;
    for (p->scale = 1, i = 0; i < exp; i++) p->scale *= 10;
    top_digits = mantissa == 64 ? UINT64_MAX : (((uint64_t)1 << mantissa) - 1);
    if (__builtin_mul_overflow(top_digits, p->scale, &product) ||
        __builtin_add_overflow(product, p->min_value, &sum)) {
        return BAD_HEADER;
    }
    p->header = proof;
    p->header_len = offset;
    rings = mantissa / 2;
    odd = mantissa % 2;
    for (i = 0; i < rings; i++) p->sizes[i] = 4;
    if (odd) p->sizes[rings++] = 2;
    if (rings < 2) return NOT_COVERED;
    p->rings = rings;
    for (i = 0; i < rings; i++) members += p->sizes[i];
    sign_len = (rings + 6) >> 3;
    if (len != offset + sign_len + 32 * (rings - 1) + 32 + 32 * members) return WRONG_LENGTH;
    if ((rings - 1) & 7 && proof[offset + sign_len - 1] >> ((rings - 1) & 7)) {
        return BAD_SIGN_BITS;
    }
    for (i = 0; i < rings - 1; i++) {
        p->sign_bits[i] = (proof[offset + (i >> 3)] >> (i & 7)) & 1;
    }
    offset += sign_len;
    p->xs = proof + offset;
    offset += 32 * (rings - 1);
    p->e0 = proof + offset;
    p->s = proof + offset + 32;
    return FOUND;
}

/* BIGNUM scratch for one output (BN_CTX: not shared between threads). */
typedef struct {
    BN_CTX *bn;
    BIGNUM *a, *b, *c;
} scalars;

static int scalars_open(scalars *k) {
    k->bn = BN_CTX_new();
    if (k->bn == NULL) return 0;
    BN_CTX_start(k->bn);
    k->a = BN_CTX_get(k->bn);
    k->b = BN_CTX_get(k->bn);
    k->c = BN_CTX_get(k->bn);
    return k->c != NULL;
}

static void scalars_close(scalars *k) {
    if (k->bn != NULL) {
        BN_CTX_end(k->bn);
        BN_CTX_free(k->bn);
    }
}

/* The Borromean challenge e(ring, member) = sha256(e || m || ring || member), which must be a
 * scalar in [1, n). */
static int challenge(const unsigned char *e, size_t e_len, const unsigned char m[32],
                     uint32_t ring, uint32_t member, unsigned char out[32]) {
    unsigned char index[8] = {
        (unsigned char)(ring >> 24),   (unsigned char)(ring >> 16),
        (unsigned char)(ring >> 8),    (unsigned char)ring,
        (unsigned char)(member >> 24), (unsigned char)(member >> 16),
        (unsigned char)(member >> 8),  (unsigned char)member,
    };
    SHA256_CTX h;
    SHA256_Init(&h);
    SHA256_Update(&h, e, e_len);
    SHA256_Update(&h, m, 32);
    SHA256_Update(&h, index, sizeof index);
    SHA256_Final(out, &h);
    return is_scalar(out) ? FOUND : SCALAR_RANGE;
}

/* Whether y (32 bytes, big-endian, below p) is a square mod p: the Legendre symbol. */
static int is_square(scalars *k, const unsigned char y[32]) {
    int symbol;
    if (BN_bin2bn(y, 32, k->a) == NULL) return -1;
    symbol = BN_kronecker(k->a, field_p, k->bn);
    return symbol == -2 ? -1 : symbol == 1;
}

/* The point with x-coordinate x whose y is a square mod p, negated when `not_square`:
 * the encoding of range-proof ring commitments and of generators. */
static int point_from_x(scalars *k, const unsigned char x[32], int not_square,
                        zkp_pubkey *out) {
    unsigned char sec[65];
    size_t len = 65;
    int square;
    sec[0] = 0x02;
    memcpy(sec + 1, x, 32);
    if (zkp.pubkey_parse(zkp.ctx, out, sec, 33) != 1) return NOT_ON_CURVE;
    zkp.pubkey_serialize(zkp.ctx, sec, &len, out, EC_UNCOMPRESSED);
    square = is_square(k, sec + 33);
    if (square < 0) return NO_MEMORY;
    if (square == not_square) zkp.pubkey_negate(zkp.ctx, out);
    return FOUND;
}

/* r = (a + b * c) mod n or (a - b) * c^-1 mod n as 32 bytes, from 32-byte big-endian inputs. */
static int mul_add(scalars *k, const unsigned char *a, const unsigned char *b,
                   const unsigned char *c, unsigned char out[32]) {
    if (!BN_bin2bn(a, 32, k->a) || !BN_bin2bn(b, 32, k->b) || !BN_bin2bn(c, 32, k->c) ||
        !BN_mod_mul(k->b, k->b, k->c, order_n, k->bn) ||
        !BN_mod_add(k->a, k->a, k->b, order_n, k->bn) || BN_bn2binpad(k->a, out, 32) != 32) {
        return NO_MEMORY;
    }
    return FOUND;
}

static int sub_div(scalars *k, const unsigned char *a, const unsigned char *b,
                   const unsigned char *c, unsigned char out[32]) {
    if (!BN_bin2bn(a, 32, k->a) || !BN_bin2bn(b, 32, k->b) || !BN_bin2bn(c, 32, k->c) ||
        !BN_mod_sub(k->a, k->a, k->b, order_n, k->bn) ||
        !BN_mod_inverse(k->c, k->c, order_n, k->bn) ||
        !BN_mod_mul(k->a, k->a, k->c, order_n, k->bn) || BN_bn2binpad(k->a, out, 32) != 32) {
        return NO_MEMORY;
    }
    return FOUND;
}

static void xor32(const unsigned char *a, const unsigned char *b, unsigned char *out) {
    int i;
    for (i = 0; i < 32; i++) out[i] = a[i] ^ b[i];
}

/* One output's inputs and what its opening finds. */
typedef struct {
    const unsigned char *nonce_commitment, *key, *value_commitment, *asset_commitment;
    const unsigned char *proof, *extra;
    size_t proof_len, extra_len;
    uint64_t value;
    unsigned char value_blinder[32];
    unsigned char message[64]; /* asset id || asset blinding factor */
} output;

/* e(0, 1) when ring 0's true member is 1: it hashes s(0,0) * G + e(0,0) * C_0. */
static int challenge_after_member_0(scalars *k, const proof_fields *p, const unsigned char m[32],
                                    const unsigned char e00[32], unsigned char out[32]) {
    zkp_pubkey c0, s_g, sum;
    const zkp_pubkey *both[2] = {&s_g, &c0};
    unsigned char r[33];
    size_t len = 33;
    int code = point_from_x(k, p->xs, p->sign_bits[0], &c0);
    if (code) return code;
    if (!is_scalar(p->s) || zkp.pubkey_create(zkp.ctx, &s_g, p->s) != 1) return SCALAR_RANGE;
    if (zkp.pubkey_tweak_mul(zkp.ctx, &c0, e00) != 1) return SCALAR_RANGE;
    if (zkp.pubkey_combine(zkp.ctx, &sum, both, 2) != 1) return SUM_INFINITY;
    zkp.pubkey_serialize(zkp.ctx, r, &len, &sum, EC_COMPRESSED);
    return challenge(r, 33, m, 0, 1, out);
}

/* The value, its blinder and the message hidden in the proof for this nonce (as
 * lwk_core/_rangeproof.py's open_proof), not yet checked against the commitments. */
static int open_proof(scalars *k, output *o, const unsigned char nonce[32]) {
    proof_fields p;
    unsigned char commit[33], gen[33], seed[32 + 33 + 33 + MAX_HEADER], m[32];
    unsigned char draws[32 * (MAX_RINGS - 1 + MAX_MEMBERS)], plain[32], e[32], raw[32];
    const unsigned char *member_draws, *digit_member = NULL;
    uint64_t digits, top, scaled;
    size_t i, last, size, j;
    int code = read_proof(o->proof, o->proof_len, &p), value_overflow;
    SHA256_CTX h;
    if (code) return code;
    commit[0] = o->value_commitment[0] & 1;
    memcpy(commit + 1, o->value_commitment + 1, 32);
    gen[0] = o->asset_commitment[0] & 1;
    memcpy(gen + 1, o->asset_commitment + 1, 32);
    SHA256_Init(&h); /* the message every challenge hashes */
    SHA256_Update(&h, commit, 33);
    SHA256_Update(&h, gen, 33);
    SHA256_Update(&h, p.header, p.header_len);
    for (i = 0; i + 1 < p.rings; i++) {
        SHA256_Update(&h, &p.sign_bits[i], 1);
        SHA256_Update(&h, p.xs + 32 * i, 32);
    }
    SHA256_Update(&h, o->extra, o->extra_len);
    SHA256_Final(m, &h);
    memcpy(seed, nonce, 32);
    memcpy(seed + 32, commit, 33);
    memcpy(seed + 65, gen, 33);
    memcpy(seed + 98, p.header, p.header_len);
    replay(seed, 98 + p.header_len, p.sizes, p.rings, draws);
    member_draws = draws + 32 * (p.rings - 1);

    /* The value's digits, XORed into a forged member of the last ring. */
    last = (p.rings - 1) * 4;
    size = p.sizes[p.rings - 1];
    for (j = 0; j < 2; j++) {
        size_t member = last + size - 1 - j;
        xor32(p.s + 32 * member, member_draws + 32 * member, plain);
        if (plain[0] & 0x80 && !memcmp(plain + 8, plain + 16, 8) &&
            !memcmp(plain + 16, plain + 24, 8)) {
            digit_member = plain;
            break;
        }
    }
    if (digit_member == NULL) return NOT_REWOUND;
    digits = read_be64(plain + 24);
    top = (digits >> ((p.rings - 1) << 1)) & 3;
    if (top == size - 1 - j) return NOT_REWOUND;
    if (top) return NOT_COVERED; /* its challenge needs the sum of every ring commitment */
    value_overflow = __builtin_mul_overflow(digits, p.scale, &scaled) ||
                     __builtin_add_overflow(scaled, p.min_value, &o->value);

    /* The value blinder: s = k - e * x at the last ring's true member 0, less its share
     * (minus the sum of the others'). */
    code = challenge(p.e0, 32, m, (uint32_t)(p.rings - 1), 0, e);
    if (code) return code;
    if (!is_scalar(p.s + 32 * last)) return SCALAR_RANGE;
    code = sub_div(k, member_draws + 32 * last, p.s + 32 * last, e, raw);
    if (code) return code;
    if (!BN_bin2bn(raw, 32, k->a)) return NO_MEMORY;
    for (i = 0; i + 1 < p.rings; i++) {
        if (!BN_bin2bn(draws + 32 * i, 32, k->b) || !BN_mod_add(k->a, k->a, k->b, order_n, k->bn)) {
            return NO_MEMORY;
        }
    }
    if (BN_bn2binpad(k->a, o->value_blinder, 32) != 32) return NO_MEMORY;
    if (value_overflow || BN_is_zero(k->a)) return NOT_REWOUND;

    /* The message, in ring 0's members 0 and 1; the true member gives k = s + e * x. */
    for (j = 0; j < 2; j++) {
        memcpy(raw, p.s + 32 * j, 32);
        if (j == (digits & 3)) {
            code = challenge(p.e0, 32, m, 0, 0, e);
            if (!code && j == 1) code = challenge_after_member_0(k, &p, m, e, e);
            if (!code && !is_scalar(raw)) code = SCALAR_RANGE;
            if (!code) code = mul_add(k, p.s + 32 * j, draws, e, raw);
            if (code) return code;
        }
        xor32(raw, member_draws + 32 * j, o->message + 32 * j);
    }
    return FOUND;
}

/* The nonce and the opening; GIL-free. */
static int open_output(scalars *k, output *o) {
    zkp_pubkey ephemeral;
    unsigned char shared[32], nonce[32];
    if (zkp.pubkey_parse(zkp.ctx, &ephemeral, o->nonce_commitment, 33) != 1) return BAD_NONCE;
    /* the default ECDH hash is sha256 of the compressed shared point; the nonce hashes it once
       more (Elements' blind.cpp, rust-elements' Nonce::shared_secret) */
    if (zkp.ecdh(zkp.ctx, shared, &ephemeral, o->key, NULL, NULL) != 1) return BAD_KEY;
    SHA256(shared, 32, nonce);
    return open_proof(k, o, nonce);
}

/* H_A = hash-to-curve(asset) as a public key, per asset: every output of one asset (most are
 * the policy asset) shares it. A few slots, replaced in turn; read and written under the GIL. */
#define ASSET_SLOTS 16
static struct {
    int used;
    unsigned char asset[32];
    zkp_pubkey point;
} assets[ASSET_SLOTS];
static size_t next_asset_slot;

static int asset_point(scalars *k, const unsigned char asset[32], zkp_pubkey *out) {
    zkp_generator gen;
    unsigned char serialized[33];
    size_t i;
    int code;
    for (i = 0; i < ASSET_SLOTS; i++) {
        if (assets[i].used && !memcmp(assets[i].asset, asset, 32)) {
            *out = assets[i].point;
            return FOUND;
        }
    }
    /* fails only when a hash is not a field element: no known asset id does that */
    if (zkp.generator_generate(zkp.ctx, &gen, asset) != 1) return BAD_ASSET_BLINDER;
    zkp.generator_serialize(zkp.ctx, serialized, &gen);
    code = point_from_x(k, serialized + 1, serialized[0] != GENERATOR_SQUARE_Y, out);
    if (code) return code;
    i = next_asset_slot++ % ASSET_SLOTS;
    assets[i].used = 1;
    memcpy(assets[i].asset, asset, 32);
    assets[i].point = *out;
    return FOUND;
}

/* Whether `point` is the one serialized as `expected`: the same x, and y a square mod p
 * exactly when the first byte is `square_tag` (generators 0x0a, commitments 0x08). */
static int matches(scalars *k, const zkp_pubkey *point, const unsigned char expected[33],
                   unsigned char square_tag) {
    unsigned char sec[65];
    size_t len = 65;
    int square;
    zkp.pubkey_serialize(zkp.ctx, sec, &len, point, EC_UNCOMPRESSED);
    if (memcmp(sec + 1, expected + 1, 32)) return 0;
    square = is_square(k, sec + 33);
    if (square < 0) return -1;
    return square == (expected[0] == square_tag);
}

/* The secrets must open both commitments: the asset commitment is H_A + abf * G
 * (secp256k1_generator_generate_blinded's point), compared in its encoding; the value
 * commitment is secp256k1_pedersen_commit's on that generator, which multiplies the value
 * in constant time (an amount is private: no timing may tell its size). */
static int check_commitments(scalars *k, const output *o, const zkp_pubkey *h) {
    static const unsigned char zero[32];
    const unsigned char *abf = o->message + 32;
    zkp_pubkey blinded, blinder_part;
    zkp_generator generator;
    zkp_commitment commitment;
    const zkp_pubkey *asset_terms[2] = {h, &blinder_part};
    unsigned char serialized[33];
    int same;
    if (memcmp(abf, ORDER, 32) >= 0) return BAD_ASSET_BLINDER;
    if (!memcmp(abf, zero, 32)) {
        blinded = *h;
    } else if (zkp.pubkey_create(zkp.ctx, &blinder_part, abf) != 1 ||
               zkp.pubkey_combine(zkp.ctx, &blinded, asset_terms, 2) != 1) {
        return ASSET_MISMATCH;
    }
    same = matches(k, &blinded, o->asset_commitment, GENERATOR_SQUARE_Y);
    if (same <= 0) return same < 0 ? NO_MEMORY : ASSET_MISMATCH;

    if ((o->value_commitment[0] & 0xfe) != COMMITMENT_TAG) return BAD_VALUE_COMMITMENT;
    /* the asset commitment is H_A' (just checked), so it parses; the opening gave a value
       blinder in [1, n) */
    if (zkp.generator_parse(zkp.ctx, &generator, o->asset_commitment) != 1 ||
        zkp.pedersen_commit(zkp.ctx, &commitment, o->value_blinder, o->value, &generator) != 1 ||
        zkp.commitment_serialize(zkp.ctx, serialized, &commitment) != 1) {
        return NOT_REWOUND;
    }
    if (!memcmp(serialized, o->value_commitment, 33)) return FOUND;
    /* why not: an encoding that is no point, or another point (a parse is a square root, so
       only on this path) */
    return zkp.commitment_parse(zkp.ctx, &commitment, o->value_commitment) == 1
               ? NOT_REWOUND
               : BAD_VALUE_COMMITMENT;
}

static PyObject *unblind(PyObject *module, PyObject *args) {
    output o;
    const char *nonce, *key, *value, *asset, *proof, *extra;
    Py_ssize_t nonce_len, key_len, value_len, asset_len, proof_len, extra_len;
    zkp_pubkey h;
    zkp_generator gen;
    scalars k = {NULL, NULL, NULL, NULL};
    int code;
    (void)module;
    if (!PyArg_ParseTuple(args, "y#y#y#y#y#y#:unblind", &nonce, &nonce_len, &key, &key_len,
                          &value, &value_len, &asset, &asset_len, &proof, &proof_len, &extra,
                          &extra_len)) {
        return NULL;
    }
    if (zkp.ctx == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "unblind before load");
        return NULL;
    }
    o.nonce_commitment = (const unsigned char *)nonce;
    o.key = (const unsigned char *)key;
    o.value_commitment = (const unsigned char *)value;
    o.asset_commitment = (const unsigned char *)asset;
    o.proof = (const unsigned char *)proof;
    o.extra = (const unsigned char *)extra;
    o.proof_len = (size_t)proof_len;
    o.extra_len = (size_t)extra_len;
    if (nonce_len != 33) return PyLong_FromLong(BAD_NONCE);
    if (key_len != 32) return PyLong_FromLong(BAD_KEY);
    if (asset_len != 33) return PyLong_FromLong(BAD_ASSET_COMMITMENT);
    if (value_len != 33) return PyLong_FromLong(BAD_VALUE_COMMITMENT);
    if (!scalars_open(&k)) {
        scalars_close(&k);
        return PyErr_NoMemory();
    }
    /* The arguments are immutable bytes the caller keeps alive; o and k are this call's own. */
    Py_BEGIN_ALLOW_THREADS
    code = open_output(&k, &o);
    Py_END_ALLOW_THREADS
    if (!code) code = asset_point(&k, o.message, &h);
    if (!code) {
        Py_BEGIN_ALLOW_THREADS
        code = check_commitments(&k, &o, &h);
        Py_END_ALLOW_THREADS
    }
    scalars_close(&k);
    /* An asset commitment that is no generator is the first error after the nonce's (as in
       lwk_core/_unblind.py); a match proves it is one, so it is parsed on failures only. */
    if (code > BAD_KEY && code != NO_MEMORY &&
        zkp.generator_parse(zkp.ctx, &gen, o.asset_commitment) != 1) {
        code = BAD_ASSET_COMMITMENT;
    }
    if (code == NO_MEMORY) return PyErr_NoMemory();
    if (code) return PyLong_FromLong(code);
    return Py_BuildValue("(Ky#y#)", (unsigned long long)o.value, o.value_blinder,
                         (Py_ssize_t)32, o.message, (Py_ssize_t)64);
}

/* Where `load` puts each function it resolves by name. */
static const struct {
    const char *name;
    void *slot; /* a field of zkp */
} FUNCTIONS[] = {
    {"secp256k1_context_create", &zkp.context_create},
    {"secp256k1_context_randomize", &zkp.context_randomize},
    {"secp256k1_ec_pubkey_parse", &zkp.pubkey_parse},
    {"secp256k1_ec_pubkey_serialize", &zkp.pubkey_serialize},
    {"secp256k1_ec_pubkey_create", &zkp.pubkey_create},
    {"secp256k1_ec_pubkey_negate", &zkp.pubkey_negate},
    {"secp256k1_ec_pubkey_tweak_mul", &zkp.pubkey_tweak_mul},
    {"secp256k1_ec_pubkey_combine", &zkp.pubkey_combine},
    {"secp256k1_ecdh", &zkp.ecdh},
    {"secp256k1_generator_parse", &zkp.generator_parse},
    {"secp256k1_generator_serialize", &zkp.generator_serialize},
    {"secp256k1_generator_generate", &zkp.generator_generate},
    {"secp256k1_pedersen_commitment_parse", &zkp.commitment_parse},
    {"secp256k1_pedersen_commitment_serialize", &zkp.commitment_serialize},
    {"secp256k1_pedersen_commit", &zkp.pedersen_commit},
};
#define N_FUNCTIONS (sizeof FUNCTIONS / sizeof FUNCTIONS[0])

static PyObject *load(PyObject *module, PyObject *args) {
    const char *path, *seed;
    Py_ssize_t seed_len;
    void *lib, *found[N_FUNCTIONS], *ctx;
    size_t i;
    (void)module;
    if (!PyArg_ParseTuple(args, "sy#:load", &path, &seed, &seed_len)) return NULL;
    if (seed_len != 32) {
        PyErr_SetString(PyExc_ValueError, "the seed is 32 bytes");
        return NULL;
    }
    if (zkp.ctx != NULL) Py_RETURN_NONE;
    lib = dlopen(path, RTLD_NOW | RTLD_LOCAL); /* embit's handle: the library is loaded once */
    if (lib == NULL) return PyErr_Format(PyExc_OSError, "cannot load %s", path);
    for (i = 0; i < N_FUNCTIONS; i++) {
        found[i] = dlsym(lib, FUNCTIONS[i].name);
        if (found[i] == NULL) {
            return PyErr_Format(PyExc_OSError, "%s lacks %s", path, FUNCTIONS[i].name);
        }
    }
    /* POSIX dlsym: the data pointer holds the function's address. */
    for (i = 0; i < N_FUNCTIONS; i++) memcpy(FUNCTIONS[i].slot, &found[i], sizeof(void *));
    if (field_p == NULL &&
        !BN_hex2bn(&field_p, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F")) {
        return PyErr_NoMemory();
    }
    if (order_n == NULL && (order_n = BN_bin2bn(ORDER, 32, NULL)) == NULL) {
        return PyErr_NoMemory();
    }
    ctx = zkp.context_create(CONTEXT_SIGN_VERIFY);
    if (ctx == NULL || zkp.context_randomize(ctx, (const unsigned char *)seed) != 1) {
        PyErr_SetString(PyExc_RuntimeError, "secp256k1 context creation failed");
        return NULL;
    }
    zkp.ctx = ctx; /* from here on read-only, shared by every thread */
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"prover_draws", prover_draws, METH_VARARGS,
     "prover_draws(seed, sizes) -> bytes\n\n"
     "The range-proof prover's random stream seeded with `seed`, for rings of `sizes[i]`\n"
     "members: every ring's blinding share but the last, then every member's draw, 32\n"
     "bytes each. Releases the GIL."},
    {"load", load, METH_VARARGS,
     "load(path, seed) -> None\n\n"
     "Resolve the functions `unblind` calls in the libsecp256k1-zkp at `path` and make its\n"
     "context, randomized with the 32-byte `seed` (once: later calls do nothing)."},
    {"unblind", unblind, METH_VARARGS,
     "unblind(nonce_commitment, key, value_commitment, asset_commitment, proof, extra)\n"
     "-> (value, value_blinder, message) | int\n\n"
     "Unblind one confidential output: its value, value blinder and 64-byte message (asset\n"
     "|| asset blinder, blinders big-endian), which open both commitments; else the code of\n"
     "the outcome (see lwk_core/_unblind.py). Releases the GIL but for the asset cache."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_native",
    .m_doc = "lwk_core's optional C extension: range-proof streams and unblinding.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module_def); }
