package dev.lory4j.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector math built from IEEE-exact operations only (add, mul, fma, compares, integer shifts), so it gives the
 * same bits in the interpreter, C1 and C2. The Vector API's own {@code EXP} runs Java's scalar {@code Math.exp}
 * per lane until C2 intrinsifies it with SVML, and the two differ in the last bit: a resumed training run (which
 * meets each kernel at a different JIT stage) would then drift from the uninterrupted one. This exp is also
 * at least as fast as SVML's here (about 1 G elements/s per core, `./lory4j bench elementwise --ops exp`) and
 * accurate to &lt; 1 ulp.
 * {@link #sumLanes} is the matching fixed-order lane sum ({@code reduceLanes(ADD)} has an unspecified order).
 */
public final class VMath {
    private VMath() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f; // exactly representable high part of ln 2
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float ROUND = 12582912f; // 1.5 * 2^23: adding it rounds to an integer
    private static final int ROUND_BITS = Float.floatToRawIntBits(ROUND);
    private static final float MAX_ARG = 88.72284f; // exp overflows above
    private static final float MIN_ARG = -87.5f; // results below are flushed to 0
    private static final FloatVector C7 = FloatVector.broadcast(S, 1f / 5040);
    private static final FloatVector C6 = FloatVector.broadcast(S, 1f / 720);
    private static final FloatVector C5 = FloatVector.broadcast(S, 1f / 120);
    private static final FloatVector C4 = FloatVector.broadcast(S, 1f / 24);
    private static final FloatVector C3 = FloatVector.broadcast(S, 1f / 6);
    private static final FloatVector C2 = FloatVector.broadcast(S, 0.5f);
    private static final FloatVector ONE = FloatVector.broadcast(S, 1f);
    private static final FloatVector NEG_LN2_HI = FloatVector.broadcast(S, -LN2_HI);
    private static final FloatVector NEG_LN2_LO = FloatVector.broadcast(S, -LN2_LO);

    /**
     * e^x: x = k ln2 + r with |r| &lt;= ln2/2 (Cody-Waite), e^r by its degree-7 Taylor polynomial (truncation
     * below 1e-8 relative), times 2^k assembled in the exponent bits (in two halves, so k = 128 cannot overflow
     * early). NaN stays NaN, +inf past 88.72, 0 below -87.5.
     */
    public static FloatVector exp(FloatVector x) {
        FloatVector xc = x.max(MIN_ARG).min(MAX_ARG);
        FloatVector t = xc.fma(FloatVector.broadcast(S, LOG2E), FloatVector.broadcast(S, ROUND));
        FloatVector k = t.sub(ROUND);
        FloatVector r = k.fma(NEG_LN2_HI, xc);
        r = k.fma(NEG_LN2_LO, r);
        FloatVector p = r.fma(C7, C6);
        p = p.fma(r, C5);
        p = p.fma(r, C4);
        p = p.fma(r, C3);
        p = p.fma(r, C2);
        p = p.fma(r, ONE);
        p = p.fma(r, ONE);
        IntVector ki = ((IntVector) t.reinterpretAsInts()).sub(ROUND_BITS);
        IntVector k1 = ki.lanewise(VectorOperators.ASHR, 1);
        FloatVector s1 = k1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector s2 = ki.sub(k1).add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector y = p.mul(s1).mul(s2);
        y = y.blend(0f, x.compare(VectorOperators.LT, MIN_ARG));
        return y.blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.GT, MAX_ARG));
    }

    /** tanh(x) = sign(x) (1 - 2 / (e^{2|x|} + 1)), from {@link #exp}. */
    public static FloatVector tanh(FloatVector x) {
        FloatVector e = exp(x.abs().mul(2f));
        FloatVector t = ONE.sub(FloatVector.broadcast(S, 2f).div(e.add(1f)));
        return t.blend(t.neg(), x.compare(VectorOperators.LT, 0f));
    }

    /** The lanes of v added in a fixed order (lane 0 first), identical at every JIT stage. */
    public static float sumLanes(FloatVector v) {
        float s = 0;
        for (int i = 0; i < S.length(); i++) {
            s += v.lane(i);
        }
        return s;
    }
}
