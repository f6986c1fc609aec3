package dev.lory4j.data.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The primitive collections against java.util's, over random adds, updates and removals that force growth. */
class PrimitiveCollectionsTest {
    @Test
    void mapsAndSetsAgreeWithJavaUtilOverRandomOperations() {
        Random rnd = new Random(7);
        LongLongMap counts = new LongLongMap();
        LongIntMap ranks = new LongIntMap();
        LongObjectMap<String> names = new LongObjectMap<>();
        LongSet set = new LongSet();
        Map<Long, Long> wantCounts = new HashMap<>();
        Map<Long, Integer> wantRanks = new HashMap<>();
        Map<Long, String> wantNames = new HashMap<>();
        Set<Long> wantSet = new HashSet<>();
        for (int op = 0; op < 200_000; op++) {
            // few distinct keys, clustered (collisions, long probe runs) and some far apart
            long k = rnd.nextBoolean() ? rnd.nextInt(3000) : ((long) rnd.nextInt(50) << 32) | rnd.nextInt(50);
            switch (rnd.nextInt(6)) {
                case 0, 1 -> {
                    long d = rnd.nextInt(5) - 1;
                    long got = counts.addToValue(k, d);
                    long want = wantCounts.merge(k, d, Long::sum);
                    assertThat(got).isEqualTo(want);
                }
                case 2 -> {
                    counts.remove(k);
                    wantCounts.remove(k);
                    names.remove(k);
                    wantNames.remove(k);
                }
                case 3 -> {
                    int v = rnd.nextInt(100);
                    assertThat(ranks.getIfAbsentPut(k, v)).isEqualTo(wantRanks.computeIfAbsent(k, x -> v));
                }
                case 4 -> {
                    assertThat(names.getIfAbsentPut(k, () -> "n" + k)).isEqualTo(wantNames.computeIfAbsent(k,
                            x -> "n" + k));
                    set.add(k);
                    wantSet.add(k);
                }
                default -> {
                    assertThat(counts.getIfAbsent(k, -99)).isEqualTo(wantCounts.getOrDefault(k, -99L));
                    assertThat(ranks.getIfAbsent(k, -1)).isEqualTo(wantRanks.getOrDefault(k, -1));
                    assertThat(set.contains(k)).isEqualTo(wantSet.contains(k));
                }
            }
        }
        assertThat(counts.size()).isEqualTo(wantCounts.size());
        Map<Long, Long> seen = new HashMap<>();
        counts.forEachKeyValue(seen::put);
        assertThat(seen).isEqualTo(wantCounts);
        assertThat(names.size()).isEqualTo(wantNames.size());
        wantNames.forEach((k, v) -> assertThat(names.remove(k)).isEqualTo(v));
        assertThat(names.size()).isZero();
        Set<Long> keys = new HashSet<>();
        set.forEach(keys::add);
        assertThat(keys).isEqualTo(wantSet);
        set.clear();
        assertThat(set.size()).isZero();
        assertThat(set.contains(wantSet.iterator().next())).isFalse();
    }

    @Test
    void intListGrowsAndChecksItsIndex() {
        IntList l = new IntList(1);
        for (int i = 0; i < 1000; i++) {
            l.add(i * 3);
        }
        l.addAll(new int[] {7, 8, 9});
        assertThat(l.size()).isEqualTo(1003);
        assertThat(l.get(999)).isEqualTo(2997);
        assertThat(l.getLast()).isEqualTo(9);
        assertThat(l.toArray()).hasSize(1003).startsWith(0, 3, 6).endsWith(7, 8, 9);
        assertThatThrownBy(() -> l.get(1003)).hasMessage("IntList: index 1003 of 1003");
        assertThat(new IntList().isEmpty()).isTrue();
    }
}
