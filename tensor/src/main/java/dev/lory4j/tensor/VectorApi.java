package dev.lory4j.tensor;

/** Start-up check that the Vector API incubator module is present. */
public final class VectorApi {
    private VectorApi() {}

    /** Throws with one sentence naming the missing flag when {@code jdk.incubator.vector} is not resolved. */
    public static void require() {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            throw new IllegalStateException("lory4j needs the Vector API: add --add-modules jdk.incubator.vector "
                    + "to the java command line (JDK 25 or newer).");
        }
    }
}
