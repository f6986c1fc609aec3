package dev.lory4j.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Resident buffers count host accesses; a device-newer buffer pulls its values once, at the next host access. */
class StorageTest {

    @Test
    void residentBuffersCountHostAccessesButNotPeeks() {
        Storage s = new Storage(new float[] {1, 2, 3});
        s.array();
        assertThat(s.version()).isZero(); // not resident: nothing counted
        s.markResident();
        int v0 = s.version();
        s.peek();
        s.unsynced();
        assertThat(s.version()).isEqualTo(v0);
        s.array();
        assertThat(s.version()).isEqualTo(v0 + 1);
        s.touch();
        assertThat(s.version()).isEqualTo(v0 + 2);
    }

    @Test
    void deviceNewerValuesArePulledOnceAtTheNextHostAccess() {
        Storage s = new Storage(new float[] {1, 2, 3});
        AtomicInteger pulls = new AtomicInteger();
        int v0 = s.version();
        s.deviceNewer(a -> {
            pulls.incrementAndGet();
            a[0] = 7;
            a[2] = -4.5f;
        });
        assertThat(s.isResident()).isTrue();
        assertThat(s.isDeviceNewer()).isTrue();
        assertThat(s.version()).isEqualTo(v0 + 1); // another device copy made before is stale now
        assertThat(s.unsynced()).containsExactly(1, 2, 3); // the owner's view: not pulled
        assertThat(pulls.get()).isZero();
        int v1 = s.version();
        assertThat(s.peek()).containsExactly(7, 2, -4.5f);
        assertThat(s.version()).isEqualTo(v1); // a read by a backend: no host write counted
        assertThat(s.array()).containsExactly(7, 2, -4.5f);
        assertThat(pulls.get()).isEqualTo(1);
        assertThat(s.isDeviceNewer()).isFalse();
        assertThat(s.version()).isEqualTo(v1 + 1);
    }

    @Test
    void tensorReadsOfADeviceNewerBufferSeeTheDeviceValues() {
        Tensor t = Tensor.wrap(new float[] {1, 2, 3, 4}, 2, 2);
        t.storage().deviceNewer(a -> java.util.Arrays.fill(a, 0.5f));
        assertThat(t.get(1, 1)).isEqualTo(0.5f);
        assertThat(t.add(1f).toArray()).containsExactly(1.5f, 1.5f, 1.5f, 1.5f);
    }

    @Test
    void aPoolReusesArraysAndKeepsNoMoreOfASizeThanItsScopeAskedFor() throws Exception {
        Storage.Pool pool = new Storage.Pool();
        float[] given = new float[8];
        try (AutoCloseable scope = pool.use()) {
            assertThat(Storage.allocate(8).peek()).isNotSameAs(given); // nothing to reuse yet: a new array
            given[3] = 7f;
            pool.give(given);
            for (int i = 0; i < 4; i++) {
                pool.give(new float[8]); // more than any allocation of this scope wanted
            }
            pool.give(new float[3]);
        }
        assertThat(pool.held()).isEqualTo(1);
        try (AutoCloseable scope = pool.use()) {
            float[] again = Storage.allocate(8).peek();
            assertThat(again).hasSize(8).containsOnly(0f); // reused and zero-filled
            assertThat(pool.reused()).isEqualTo(1);
            pool.give(again);
            assertThat(Storage.allocateForOverwrite(8).peek()).isSameAs(again);
        }
        assertThat(Storage.allocate(8).peek()).containsOnly(0f); // outside a scope: no pool
    }
}
