package dev.lory4j.tensor.kernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** Merge.backward against plain double loops, on odd shapes (vector and block tails), and across thread counts. */
class MergeTest {

    private static float[] random(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    /** Asserts |actual - expected| <= 1e-5 * (sum of |terms|) elementwise, the float32 bound for these sums. */
    private static void assertClose(float[] actual, int off, double[] expected, double[] scale, String what) {
        for (int i = 0; i < expected.length; i++) {
            assertThat((double) actual[off + i]).as("%s[%d]", what, i)
                    .isCloseTo(expected[i], org.assertj.core.data.Offset.offset(1e-5 * scale[i] + 1e-30));
        }
    }

    @ParameterizedTest
    @CsvSource({"1, 1, 1", "3, 5, 7", "2, 3, 2061", "5, 1, 4096", "33, 8, 4109", "4, 17, 100", "32, 8, 6150"})
    void matchesPlainLoops(int s, int e, int p) {
        Random r = new Random(31L * s + 7L * e + p);
        int wOff = 3;
        int bOff = 5;
        int dmOff = 2;
        int dbOff = 1;
        int dwOff = 4;
        float[] w = random(r, wOff + s * e);
        float[] b = random(r, bOff + e * p);
        float[] dm = random(r, dmOff + s * p);
        float[] db = random(r, dbOff + e * p + 3);
        float[] dw = random(r, dwOff + s * e + 2);
        float[] dwBefore = dw.clone();
        float beta = 0.5f;
        Merge.backward(s, e, p, w, wOff, b, bOff, dm, dmOff, db, dbOff, dw, dwOff, beta);

        double[] dbRef = new double[e * p];
        double[] dbScale = new double[e * p];
        for (int i = 0; i < e; i++) {
            for (int j = 0; j < p; j++) {
                for (int q = 0; q < s; q++) {
                    double t = (double) w[wOff + q * e + i] * dm[dmOff + q * p + j];
                    dbRef[i * p + j] += t;
                    dbScale[i * p + j] += Math.abs(t);
                }
            }
        }
        double[] dwRef = new double[s * e];
        double[] dwScale = new double[s * e];
        for (int q = 0; q < s; q++) {
            for (int i = 0; i < e; i++) {
                double old = beta * dwBefore[dwOff + q * e + i];
                dwRef[q * e + i] = old;
                dwScale[q * e + i] = Math.abs(old);
                for (int j = 0; j < p; j++) {
                    double t = (double) dm[dmOff + q * p + j] * b[bOff + i * p + j];
                    dwRef[q * e + i] += t;
                    dwScale[q * e + i] += Math.abs(t);
                }
            }
        }
        assertClose(db, dbOff, dbRef, dbScale, "dB");
        assertClose(dw, dwOff, dwRef, dwScale, "dw");
        // Nothing outside the outputs is written.
        assertThat(dw[0]).isEqualTo(dwBefore[0]);
        assertThat(dw[dwOff + s * e]).isEqualTo(dwBefore[dwOff + s * e]);
    }

    @Test
    void eachOutputCanBeSkippedAndBetaZeroIgnoresOldValues() {
        Random r = new Random(2);
        int s = 6;
        int e = 5;
        int p = 2100;
        float[] w = random(r, s * e);
        float[] b = random(r, e * p);
        float[] dm = random(r, s * p);
        float[] db = new float[e * p];
        float[] dw = new float[s * e];
        Merge.backward(s, e, p, w, 0, b, 0, dm, 0, db, 0, dw, 0, 0f);
        float[] dbOnly = new float[e * p];
        Merge.backward(s, e, p, w, 0, null, 0, dm, 0, dbOnly, 0, null, 0, 0f);
        float[] dwOnly = new float[s * e];
        java.util.Arrays.fill(dwOnly, Float.NaN); // beta == 0 never reads the old values
        Merge.backward(s, e, p, w, 0, b, 0, dm, 0, null, 0, dwOnly, 0, 0f);
        assertThat(dbOnly).isEqualTo(db);
        assertThat(dwOnly).isEqualTo(dw);
    }

    @Test
    void resultsAreBitIdenticalForAnyThreadCount() {
        Random r = new Random(3);
        int s = 32;
        int e = 8;
        int p = 5 * Merge.BLOCK + 11;
        float[] w = random(r, s * e);
        float[] b = random(r, e * p);
        float[] dm = random(r, s * p);
        float[][] db = new float[3][e * p];
        float[][] dw = new float[3][s * e];
        for (int t = 1; t <= 3; t++) {
            int i = t - 1;
            Parallel.withThreads(t, () -> Merge.backward(s, e, p, w, 0, b, 0, dm, 0, db[i], 0, dw[i], 0, 0f));
        }
        assertThat(db[1]).isEqualTo(db[0]);
        assertThat(db[2]).isEqualTo(db[0]);
        assertThat(dw[1]).isEqualTo(dw[0]);
        assertThat(dw[2]).isEqualTo(dw[0]);
    }

    @Test
    void badArgumentsAreNamed() {
        float[] x = new float[10];
        assertThatThrownBy(() -> Merge.backward(2, 3, 6, x, 0, x, 0, x, 0, null, 0, null, 0, 0f))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("merge backward").hasMessageContaining("dM");
        assertThatThrownBy(() -> Merge.backward(-1, 3, 4, x, 0, x, 0, x, 0, null, 0, null, 0, 0f))
                .hasMessageContaining("negative size");
    }
}
