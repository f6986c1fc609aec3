package dev.lory4j.autograd.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class DecoderSpecTest {
    @Test
    void parameterShapesFollowTheDocumentedOrder() {
        DecoderSpec spec = new DecoderSpec(11, 8, 2, 6, 1e-5f, false,
                List.of(DecoderSpec.FeedForward.DENSE, new DecoderSpec.FeedForward(3, 4, true)));
        int[][] s = spec.parameterShapes();
        assertThat(s).hasNumberOfRows(1 + (6 + 3) + (6 + 5) + 1 + 1);
        assertThat(s[0]).containsExactly(11, 8); // embeddings
        assertThat(s[1]).containsExactly(8); // layer 0 input norm
        assertThat(s[5]).containsExactly(8, 8); // Wo
        assertThat(s[7]).containsExactly(6, 8); // gate
        assertThat(s[9]).containsExactly(8, 6); // down
        assertThat(s[16]).containsExactly(3, 8); // router weight
        assertThat(s[17]).containsExactly(3); // router bias
        assertThat(s[20]).containsExactly(3, 8, 6); // expert down tensor
        assertThat(s[21]).containsExactly(8); // final norm
        assertThat(s[22]).containsExactly(11, 8); // head
        DecoderSpec tied = new DecoderSpec(11, 8, 2, 6, 1e-5f, true, List.of(DecoderSpec.FeedForward.DENSE));
        assertThat(tied.parameterShapes()).hasNumberOfRows(1 + 9 + 1);
    }

    @Test
    void badSizesFailNamingTheSpec() {
        assertThatThrownBy(() -> new DecoderSpec(11, 9, 2, 6, 1e-5f, false, List.of(DecoderSpec.FeedForward.DENSE)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("DecoderSpec: vocab 11, hidden 9");
        assertThatThrownBy(() -> new DecoderSpec(11, 8, 2, 6, 1e-5f, false, List.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0 layers");
        assertThatThrownBy(() -> new DecoderSpec.FeedForward(4, 0, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("4 experts with segment 0");
    }
}
