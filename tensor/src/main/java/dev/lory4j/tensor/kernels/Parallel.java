package dev.lory4j.tensor.kernels;
public final class Parallel {
  public static int threads() { return Integer.getInteger("lory4j.threads", Runtime.getRuntime().availableProcessors()); }
  public static void parallelFor(int tasks, java.util.function.IntConsumer body) { java.util.stream.IntStream.range(0, tasks).parallel().forEach(body); }
}
