/* Key index generators; see keygen.h.
 *
 * Zipf by rejection-inversion: with h(x) = x^-s and H its antiderivative
 * (H(x) = (x^(1-s) - 1) / (1-s), log x when s = 1), draw u uniformly in
 * [H(n + 1/2), H(3/2) - 1], invert x = H^-1(u) and round to k. The
 * acceptance test u >= H(k + 1/2) - h(k) accepts k with probability
 * proportional to k^-s; the shortcut k - x <= sq accepts without evaluating
 * H in most cases. helper1/helper2 keep log1p(x)/x and expm1(x)/x accurate
 * near x = 0, which covers s close to 1. */
#include "keygen.h"

#include <errno.h>
#include <math.h>

static double helper1(double x) {
    return fabs(x) > 1e-8 ? log1p(x) / x : 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}

static double helper2(double x) {
    return fabs(x) > 1e-8 ? expm1(x) / x : 1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x));
}

static double zh(const keygen_t *kg, double x) {
    return exp(-kg->s * log(x));
}

static double zh_int(const keygen_t *kg, double x) {
    double lx = log(x);
    return helper2((1.0 - kg->s) * lx) * lx;
}

static double zh_int_inv(const keygen_t *kg, double x) {
    double t = x * (1.0 - kg->s);
    if (t < -1.0) t = -1.0;
    return exp(helper1(t) * x);
}

int keygen_init(keygen_t *kg, uint64_t n, int dist, double s) {
    kg->n = n;
    kg->dist = dist;
    kg->s = s;
    if (dist != KEYGEN_UNIFORM && dist != KEYGEN_ZIPF) return -EINVAL;
    if (dist == KEYGEN_ZIPF) {
        if (!(s > 0.0) || !isfinite(s)) return -EINVAL;
        kg->hx1 = zh_int(kg, 1.5) - 1.0;
        kg->hn = zh_int(kg, (double)n + 0.5);
        kg->sq = 2.0 - zh_int_inv(kg, zh_int(kg, 2.5) - zh(kg, 2.0));
    }
    return 0;
}

uint64_t keygen__zipf(const keygen_t *kg) {
    for (;;) {
        double unit = (double)(kl_rand64() >> 11) * 0x1.0p-53;
        double u = kg->hn + unit * (kg->hx1 - kg->hn);
        double x = zh_int_inv(kg, u);
        double kd = floor(x + 0.5);
        uint64_t k;
        if (kd < 1.0)
            k = 1;
        else if (kd > (double)kg->n)
            k = kg->n;
        else
            k = (uint64_t)kd;
        if ((double)k - x <= kg->sq || u >= zh_int(kg, (double)k + 0.5) - zh(kg, (double)k))
            return k - 1;
    }
}
