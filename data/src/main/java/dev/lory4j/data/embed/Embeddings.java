package dev.lory4j.data.embed;

import dev.lory4j.data.knn.DotKernel;

/**
 * A dense matrix of document embeddings, one row per document, row-major in one {@code float[]}. Rows made by
 * the embedders of this package are L2-normalised, so a dot product is a cosine similarity.
 */
public final class Embeddings {
    private final int count;
    private final int dim;
    private final float[] data;

    /** Wraps {@code data} (count × dim, row-major; not copied). */
    public Embeddings(int count, int dim, float[] data) {
        if (count < 0 || dim <= 0 || (long) count * dim != data.length) {
            throw new IllegalArgumentException("Embeddings: " + count + " x " + dim + " does not match "
                    + data.length + " values");
        }
        this.count = count;
        this.dim = dim;
        this.data = data;
    }

    /** Number of rows (documents). */
    public int count() {
        return count;
    }

    /** Width of a row. */
    public int dim() {
        return dim;
    }

    /** The backing array (row i starts at {@code i * dim()}). */
    public float[] data() {
        return data;
    }

    /** A copy of row {@code i}. */
    public float[] row(int i) {
        float[] r = new float[dim];
        System.arraycopy(data, i * dim, r, 0, dim);
        return r;
    }

    /** The dot product of rows {@code i} and {@code j} (their cosine when rows are normalised). */
    public float dot(int i, int j) {
        return DotKernel.dot(data, i * dim, data, j * dim, dim);
    }

    /** Scales every row to unit L2 norm in place (zero rows stay zero); returns this. */
    public Embeddings normalizeRows() {
        for (int i = 0; i < count; i++) {
            float n = (float) Math.sqrt(DotKernel.dot(data, i * dim, data, i * dim, dim));
            if (n > 0) {
                float inv = 1f / n;
                for (int j = i * dim, e = j + dim; j < e; j++) {
                    data[j] *= inv;
                }
            }
        }
        return this;
    }
}
