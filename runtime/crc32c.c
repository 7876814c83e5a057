/* crc32c.c -- CRC-32C (Castagnoli) for the plan checksums
 *
 * The processor's own CRC-32C instruction where it has one (x86-64 SSE4.2
 * crc32, ARMv8 CRC32C), chosen once at run time, else slicing-by-8 over
 * tables built once.  The instruction does 8 bytes in a few cycles, several
 * times the tables' speed, which matters because a plan is checked whole
 * every time pomlrun loads it.  Both give the same value for every input.
 */
#include "plan.h"

#include <pthread.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <nmmintrin.h>
#define CRC_HW_X86 1
#elif defined(__aarch64__) && defined(__linux__) &&                           \
    (defined(__GNUC__) || defined(__clang__))
#include <arm_acle.h>
#include <asm/hwcap.h>
#include <sys/auxv.h>
#define CRC_HW_ARM 1
#endif

static uint32_t table[8][256];
static uint32_t (*impl)(uint32_t, const uint8_t *, size_t);
static pthread_once_t once = PTHREAD_ONCE_INIT,
                      tables_once = PTHREAD_ONCE_INIT;

static void init_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^
                          table[0][table[t - 1][i] & 0xFF];
}

/* CRC over the inverted register: the callers invert before and after */
static uint32_t crc_tables(uint32_t crc, const uint8_t *p, size_t len)
{
    while (len >= 8) {
        uint32_t lo = crc ^ pr_rd_u32(p);
        uint32_t hi = pr_rd_u32(p + 4);
        crc = table[7][lo & 0xFF] ^ table[6][(lo >> 8) & 0xFF] ^
              table[5][(lo >> 16) & 0xFF] ^ table[4][lo >> 24] ^
              table[3][hi & 0xFF] ^ table[2][(hi >> 8) & 0xFF] ^
              table[1][(hi >> 16) & 0xFF] ^ table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xFF];
    return crc;
}

#if defined(CRC_HW_X86)
__attribute__((target("sse4.2"))) static uint32_t
crc_hw(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = crc;
    uint64_t w;
    for (; len >= 8; p += 8, len -= 8) {
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
    }
    crc = (uint32_t)c;
    while (len--)
        crc = _mm_crc32_u8(crc, *p++);
    return crc;
}

/* One cpuid, when the first CRC is asked for.  __builtin_cpu_supports
 * would link libgcc's CPU model constructor, which runs several cpuid
 * leaves at every start of the program; under a hypervisor each cpuid is
 * a trap that costs microseconds, in pomlc and pomlrun alike. */
static int have_hw(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_2);
}
#elif defined(CRC_HW_ARM)
__attribute__((target("+crc"))) static uint32_t
crc_hw(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t w;
    for (; len >= 8; p += 8, len -= 8) {
        memcpy(&w, p, 8);
        crc = __crc32cd(crc, w);
    }
    while (len--)
        crc = __crc32cb(crc, *p++);
    return crc;
}

static int have_hw(void)
{
    return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
}
#endif

/* the tables (8 KiB) only where the instruction is missing */
static void init(void)
{
#if defined(CRC_HW_X86) || defined(CRC_HW_ARM)
    if (have_hw()) {
        impl = crc_hw;
        return;
    }
#endif
    pthread_once(&tables_once, init_tables);
    impl = crc_tables;
}

uint32_t pr_crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&once, init);
    return ~impl(~crc, data, len);
}

uint32_t pr_crc32c_portable(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&tables_once, init_tables);
    return ~crc_tables(~crc, data, len);
}

const char *pr_crc32c_method(void)
{
    pthread_once(&once, init);
    return impl == crc_tables ? "tables" : "instruction";
}
