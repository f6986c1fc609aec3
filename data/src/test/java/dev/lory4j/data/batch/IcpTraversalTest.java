package dev.lory4j.data.batch;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lory4j.data.knn.KnnGraph;
import org.junit.jupiter.api.Test;

class IcpTraversalTest {
    /** Spec §9 G: ICP greedy traversal, paper semantics. */
    static final double[][] SIM = {
        {0, .9, .8, .1, .0, .1, .2},
        {.9, 0, .7, .2, .1, .0, .1},
        {.8, .7, 0, .3, .1, .1, .0},
        {.1, .2, .3, 0, .9, .6, .5},
        {.0, .1, .1, .9, 0, .8, .4},
        {.1, .0, .1, .6, .8, 0, .7},
        {.2, .1, .0, .5, .4, .7, 0},
    };

    @Test
    void workedExampleG() {
        KnnGraph knn = KnnGraph.fromSimilarityMatrix(SIM, 2);
        int[][] top2 = {{1, 2}, {0, 2}, {0, 1}, {4, 5}, {3, 5}, {4, 6}, {5, 3}};
        for (int i = 0; i < 7; i++) {
            assertThat(knn.neighbors(i)).as("top-2 of %d", i).containsExactly(top2[i]);
        }
        SimilarityGraph g = SimilarityGraph.fromKnn(knn);
        assertThat(g.edgeCount()).isEqualTo(8); // 0-1 0-2 1-2 3-4 3-5 4-5 5-6 3-6
        assertThat(g.neighbors(3)).containsExactly(4, 5, 6);
        assertThat(g.neighbors(6)).containsExactly(3, 5);
        int[] degree = new int[7];
        for (int i = 0; i < 7; i++) {
            degree[i] = g.degree(i);
        }
        assertThat(degree).containsExactly(2, 2, 2, 3, 2, 3, 2);
        assertThat(g.weight(3, 6)).isEqualTo(0.5f);
        assertThat(g.weight(0, 6)).isNaN();

        IcpTraversal.Path p = IcpTraversal.traverse(g);
        assertThat(p.path()).containsExactly(0, 1, 2, 4, 3, 5, 6);
        assertThat(p.starts()).containsExactly(0, 3); // walks start at documents 0 and 4
        assertThat(p.walks()).isEqualTo(2);

        // "with contexts of two documents this packs to [0,1], [2,4], [3,5], [6,…]"
        int[] path = p.path();
        assertThat(new int[] {path[0], path[1], path[2], path[3], path[4], path[5], path[6]})
                .startsWith(0, 1, 2, 4, 3, 5).endsWith(6);
    }

    @Test
    void tiesGoToTheSmallestIdAndEveryNodeIsVisitedOnce() {
        // a star: node 0 linked to 1..4 with equal weights, plus isolated pairs
        double[][] sim = new double[7][7];
        for (int j = 1; j <= 4; j++) {
            sim[0][j] = sim[j][0] = 0.5;
        }
        sim[5][6] = sim[6][5] = 0.9;
        KnnGraph knn = KnnGraph.fromSimilarityMatrix(sim, 1);
        IcpTraversal.Path p = IcpTraversal.traverse(SimilarityGraph.fromKnn(knn));
        assertThat(p.path()).containsExactlyInAnyOrder(0, 1, 2, 3, 4, 5, 6);
        // degrees: 0 has 4 (1..4 all point at it), 1..4 have 1, 5 and 6 have 1: the first start is node 1
        assertThat(p.path()[0]).isEqualTo(1);
        assertThat(p.path()[1]).isEqualTo(0);
        assertThat(p.path()[2]).isEqualTo(2); // 2, 3, 4 tie at 0.5 -> smallest id
    }
}
