/** Runnable samples of MemAlloc: {@code ./sample NAME} from the repository root; {@code ./sample} lists them. */
module io.memalloc.samples {
    requires io.memalloc;
    requires java.management;
    requires jdk.jfr;
}
