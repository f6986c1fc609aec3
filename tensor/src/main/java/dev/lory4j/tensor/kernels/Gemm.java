package dev.lory4j.tensor.kernels;
public final class Gemm {
  public static void sgemm(boolean ta, boolean tb, int m, int n, int k, float alpha, float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float beta, float[] c, int cOff, int ldc) {
    for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) { double s = 0; for (int p = 0; p < k; p++) s += (double)(ta ? a[aOff+p*lda+i] : a[aOff+i*lda+p]) * (tb ? b[bOff+j*ldb+p] : b[bOff+p*ldb+j]);
      int ci = cOff+i*ldc+j; c[ci] = (float)(alpha*s + (beta==0?0:beta*c[ci])); }
  }
  public static void sgemmBatched(int batch, boolean ta, boolean tb, int m, int n, int k, float alpha, float[] a, int aOff, int sA, int lda, float[] b, int bOff, int sB, int ldb, float beta, float[] c, int cOff, int sC, int ldc) {
    for (int t = 0; t < batch; t++) sgemm(ta, tb, m, n, k, alpha, a, aOff+t*sA, lda, b, bOff+t*sB, ldb, beta, c, cOff+t*sC, ldc);
  }
}
