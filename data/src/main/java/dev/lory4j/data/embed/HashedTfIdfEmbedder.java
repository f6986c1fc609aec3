package dev.lory4j.data.embed;

import dev.lory4j.tensor.kernels.Parallel;
import java.util.Arrays;
import java.util.List;

/**
 * The default, pure-Java document embedding: TF-IDF over hashed word features, projected to a dense vector.
 *
 * <ol>
 *   <li>Terms are maximal runs of letters or digits, lower-cased, of at least 2 characters; each is hashed
 *       (64-bit FNV-1a, then a SplitMix finaliser) to one of {@code 2^featureBits} features.</li>
 *   <li>Weight of feature f in document d: {@code (1 + ln tf(f, d)) · (ln((1 + N) / (1 + df(f))) + 1)}, with
 *       N documents and df the number of documents that contain f (sublinear TF, smoothed IDF); the sparse
 *       vector is L2-normalised.</li>
 *   <li>A seeded random-sign projection to {@code dim} dimensions, then L2 normalisation again, so the
 *       dot product of two rows is (approximately) the cosine of their TF-IDF vectors.</li>
 * </ol>
 * Deterministic for a given seed, and parallel over documents.
 */
public final class HashedTfIdfEmbedder implements Embedder {
    private final int featureBits;
    private final int dim;
    private final long seed;
    private final int maxChars;
    private volatile SignProjection projection;

    /**
     * An embedder.
     *
     * @param featureBits log2 of the number of hashed features (10..24; 18 is a good default)
     * @param dim         output width, a positive multiple of 64 (256 by default)
     * @param seed        seed of the projection
     * @param maxChars    only the first maxChars characters of each text are used (0: all)
     */
    public HashedTfIdfEmbedder(int featureBits, int dim, long seed, int maxChars) {
        if (featureBits < 10 || featureBits > 24) {
            throw new IllegalArgumentException("HashedTfIdfEmbedder: featureBits " + featureBits + " not in [10, 24]");
        }
        if (dim <= 0 || dim % 64 != 0) {
            throw new IllegalArgumentException("HashedTfIdfEmbedder: dim " + dim + " must be a positive multiple of 64");
        }
        if (maxChars < 0) {
            throw new IllegalArgumentException("HashedTfIdfEmbedder: maxChars " + maxChars + " is negative");
        }
        this.featureBits = featureBits;
        this.dim = dim;
        this.seed = seed;
        this.maxChars = maxChars;
    }

    /** 2^18 features, 256 dimensions, seed 42, whole texts. */
    public HashedTfIdfEmbedder() {
        this(18, 256, 42, 0);
    }

    @Override
    public int dimension() {
        return dim;
    }

    @Override
    public String describe() {
        return "hashed TF-IDF (2^" + featureBits + " features) -> " + dim + "-d sign projection, seed " + seed;
    }

    private SignProjection projection() {
        SignProjection p = projection;
        if (p == null) {
            synchronized (this) {
                if (projection == null) {
                    projection = new SignProjection(featureBits, dim, seed);
                }
                p = projection;
            }
        }
        return p;
    }

    /** The sparse term counts of one text: sorted distinct features and their counts. */
    record Sparse(int[] features, float[] counts) {
    }

    Sparse terms(String text) {
        int end = maxChars == 0 ? text.length() : Math.min(text.length(), maxChars);
        int[] buf = new int[64];
        int n = 0;
        int shift = 64 - featureBits;
        int i = 0;
        while (i < end) {
            char c = text.charAt(i);
            if (!Character.isLetterOrDigit(c)) {
                i++;
                continue;
            }
            long h = 0xcbf29ce484222325L;
            int len = 0;
            while (i < end && Character.isLetterOrDigit(c = text.charAt(i))) {
                h = (h ^ Character.toLowerCase(c)) * 0x100000001b3L;
                len++;
                i++;
            }
            if (len < 2) {
                continue;
            }
            if (n == buf.length) {
                buf = Arrays.copyOf(buf, n * 2);
            }
            buf[n++] = (int) (SignProjection.mix(h) >>> shift);
        }
        Arrays.sort(buf, 0, n);
        int[] f = new int[n];
        float[] c = new float[n];
        int m = 0;
        for (int k = 0; k < n; k++) {
            if (m > 0 && f[m - 1] == buf[k]) {
                c[m - 1]++;
            } else {
                f[m] = buf[k];
                c[m++] = 1;
            }
        }
        return new Sparse(Arrays.copyOf(f, m), Arrays.copyOf(c, m));
    }

    /**
     * What the IDF weights need from a corpus: its document count and, per hashed feature, how many documents hold
     * it. Counts of disjoint parts of a corpus {@link #plus add up}, so a distributed job counts per partition.
     *
     * @param documents number of documents counted
     * @param counts    documents per feature (length {@code 2^featureBits})
     */
    public record DocumentFrequencies(long documents, int[] counts) implements java.io.Serializable {
        /** The counts of both parts together. */
        public DocumentFrequencies plus(DocumentFrequencies o) {
            if (o.counts.length != counts.length) {
                throw new IllegalArgumentException("DocumentFrequencies.plus: " + counts.length + " vs "
                        + o.counts.length + " features");
            }
            int[] sum = counts.clone();
            for (int f = 0; f < sum.length; f++) {
                sum[f] += o.counts[f];
            }
            return new DocumentFrequencies(documents + o.documents, sum);
        }
    }

    /** The document frequencies of {@code texts}. */
    public DocumentFrequencies documentFrequencies(List<String> texts) {
        return frequencies(sparse(texts));
    }

    private DocumentFrequencies frequencies(Sparse[] sparse) {
        int[] df = new int[1 << featureBits];
        for (Sparse s : sparse) {
            for (int f : s.features) {
                df[f]++;
            }
        }
        return new DocumentFrequencies(sparse.length, df);
    }

    private Sparse[] sparse(List<String> texts) {
        int n = texts.size();
        Sparse[] sparse = new Sparse[n];
        int chunk = 64;
        Parallel.parallelFor((n + chunk - 1) / chunk, t -> {
            for (int i = t * chunk, e = Math.min(n, i + chunk); i < e; i++) {
                sparse[i] = terms(texts.get(i));
            }
        });
        return sparse;
    }

    @Override
    public Embeddings embed(List<String> texts) {
        Sparse[] sparse = sparse(texts);
        return embed(sparse, frequencies(sparse));
    }

    /**
     * Embeds {@code texts} with the IDF weights of a larger corpus they belong to ({@code corpus}: e.g. summed over
     * every partition of a distributed job), so each text gets the row that embedding the whole corpus at once gives.
     */
    public Embeddings embed(List<String> texts, DocumentFrequencies corpus) {
        if (corpus.counts().length != 1 << featureBits) {
            throw new IllegalArgumentException("HashedTfIdfEmbedder.embed: document frequencies of "
                    + corpus.counts().length + " features, this embedder hashes to 2^" + featureBits);
        }
        return embed(sparse(texts), corpus);
    }

    private Embeddings embed(Sparse[] sparse, DocumentFrequencies corpus) {
        int n = sparse.length;
        int chunk = 64;
        int tasks = (n + chunk - 1) / chunk;
        int[] df = corpus.counts();
        long docs = corpus.documents();
        float[] idf = new float[df.length];
        for (int f = 0; f < df.length; f++) {
            idf[f] = (float) (Math.log((1.0 + docs) / (1.0 + df[f])) + 1.0);
        }
        SignProjection proj = projection();
        float[] out = new float[n * dim];
        Parallel.parallelFor(tasks, t -> {
            float[] row = new float[dim];
            for (int i = t * chunk, e = Math.min(n, i + chunk); i < e; i++) {
                Sparse s = sparse[i];
                int m = s.features.length;
                float[] w = new float[m];
                double norm = 0;
                for (int k = 0; k < m; k++) {
                    w[k] = (float) ((1 + Math.log(s.counts[k])) * idf[s.features[k]]);
                    norm += (double) w[k] * w[k];
                }
                if (norm > 0) {
                    float inv = (float) (1 / Math.sqrt(norm));
                    for (int k = 0; k < m; k++) {
                        w[k] *= inv;
                    }
                }
                Arrays.fill(row, 0f);
                proj.accumulate(s.features, w, m, row);
                System.arraycopy(row, 0, out, i * dim, dim);
            }
        });
        return new Embeddings(n, dim, out).normalizeRows();
    }
}
