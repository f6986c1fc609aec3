package dev.lory4j.tensor.kernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.Test;

class RotaryTest {
    private static float[] random(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    @Test
    void forwardRotatesEachRowByItsPositionAndBackwardIsItsTranspose() {
        Random r = new Random(5);
        // widths below, at and past a vector (8 or 16 lanes per half), several positions, enough rows to go parallel
        for (int d : new int[] {2, 6, 32, 38, 64, 130}) {
            for (int rows : new int[] {3, 12, 3 * 700}) {
                int len = 3;
                int h = d / 2;
                float[] cos = random(r, len * d);
                float[] sin = random(r, len * d);
                // rows read from a strided layout: row i at 5 + 2*i*d (a gap of one row between rows)
                float[] u = random(r, 5 + 2 * rows * d);
                int[] starts = new int[rows];
                for (int i = 0; i < rows; i++) {
                    starts[i] = 5 + 2 * i * d;
                }
                float[] out = new float[1 + rows * d];
                Rotary.forward(u, starts, len, d, cos, 0, sin, 0, out, 1);
                float[] g = random(r, rows * d);
                float[] du = new float[rows * d + 2];
                Rotary.backward(g, 0, rows, len, d, cos, 0, sin, 0, du, 2);
                double forwardDot = 0;
                double backwardDot = 0;
                for (int i = 0; i < rows; i++) {
                    int t = (i % len) * d;
                    for (int j = 0; j < d; j++) {
                        float x = u[starts[i] + j];
                        float partner = j < h ? -u[starts[i] + j + h] : u[starts[i] + j - h];
                        float want = x * cos[t + j] + partner * sin[t + j];
                        assertThat(out[1 + i * d + j]).as("d=%d row %d col %d", d, i, j).isEqualTo(want);
                        forwardDot += (double) out[1 + i * d + j] * g[i * d + j];
                        backwardDot += (double) x * du[2 + i * d + j];
                    }
                }
                // <rot(u), g> = <u, rot^T(g)>: the backward pass is the forward's transpose
                assertThat(backwardDot).as("d=%d rows=%d", d, rows).isCloseTo(forwardDot,
                        within(1e-4 * (1 + Math.abs(forwardDot))));
            }
        }
    }

    @Test
    void oddWidthsAndRowsThatDoNotFillThePositionsAreRejected() {
        float[] t = new float[12];
        assertThatThrownBy(() -> Rotary.forward(new float[9], new int[] {0, 3, 6}, 3, 3, t, 0, t, 0, new float[9], 0))
                .hasMessageContaining("rope").hasMessageContaining("even width");
        assertThatThrownBy(() -> Rotary.backward(new float[8], 0, 2, 3, 4, t, 0, t, 0, new float[8], 0))
                .hasMessageContaining("rope backward").hasMessageContaining("2 rows");
    }
}
