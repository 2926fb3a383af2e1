package io.memalloc.internal.os;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@link OsChecks} and {@link Errno}. */
class OsChecksTest {

    @ParameterizedTest
    @CsvSource({"4096, 1", "4096, 4096", "8192, 2097152", "9223372036854771712, 4611686018427387904"})
    void acceptsPositiveMultiplesAndPowersOfTwo(long size, long alignment) {
        assertThatCode(() -> OsChecks.checkMapArguments(size, alignment, 4096)).doesNotThrowAnyException();
    }

    @ParameterizedTest
    @CsvSource({"0, 4096", "-4096, 4096", "4095, 4096", "12289, 4096", "-9223372036854775808, 4096"})
    void rejectsSizes(long size, long alignment) {
        assertThatThrownBy(() -> OsChecks.checkMapArguments(size, alignment, 4096))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("map size " + size + " is not a positive multiple of 4096");
    }

    @ParameterizedTest
    @CsvSource({"4096, 0", "4096, -1", "4096, 6", "4096, -9223372036854775808", "4096, 9223372036854775807"})
    void rejectsAlignments(long size, long alignment) {
        assertThatThrownBy(() -> OsChecks.checkMapArguments(size, alignment, 4096))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("map alignment " + alignment + " is not a power of two");
    }

    @Test
    void errnoNamesTheMappingErrors() {
        assertThat(Errno.describe(1)).isEqualTo("errno 1 (EPERM)");
        assertThat(Errno.describe(12)).isEqualTo("errno 12 (ENOMEM)");
        assertThat(Errno.describe(13)).isEqualTo("errno 13 (EACCES)");
        assertThat(Errno.describe(22)).isEqualTo("errno 22 (EINVAL)");
        assertThat(Errno.describe(0)).isEqualTo("errno 0");
        assertThat(Errno.describe(99)).isEqualTo("errno 99");
    }
}
