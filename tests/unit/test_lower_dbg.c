/* The source-line notes of the llvm, asm and ptx texts (src/lower/lower_dbg_text.c): LLVM IR's
 * !DILocation, and the .file / .loc directives of x86 assembly and PTX. Part of tests/unit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "lower/lower.h"

static char *noted(const char *text, LowerTextKind kind) {
  char *out = NULL;
  Diag d = {0};
  assert_int_equal(lower_annotate_lines(text, kind, &out, &d), HL_OK);
  assert_non_null(out);
  return out;
}

static void llvm_ir(void **state) {
  (void)state;
  const char *ir = "define void @k(ptr %a) !dbg !4 {\n"
                   "entry:\n"
                   "  %x = load ptr, ptr %a, align 8, !dbg !9\n"
                   "  %y = fadd float 1.0, 2.0\n"
                   "  ret void, !dbg !10\n"
                   "}\n"
                   "!1 = !DIFile(filename: \"dir/add.lua\", directory: \"\")\n"
                   "!4 = distinct !DISubprogram(name: \"k\", scope: !1, file: !1, line: 10, unit: !0)\n"
                   "!9 = !DILocation(line: 10, scope: !4)\n"
                   "!10 = !DILocation(line: 11, column: 3, scope: !4)\n";
  char *o = noted(ir, LOWER_TEXT_LLVM);
  assert_non_null(strstr(o, "align 8, !dbg !9  ; add.lua:10\n"));
  assert_non_null(strstr(o, "ret void, !dbg !10  ; add.lua:11\n"));
  assert_non_null(strstr(o, "%y = fadd float 1.0, 2.0\n"));     /* no location: no note */
  assert_non_null(strstr(o, "!dbg !4 {\n"));                      /* the define line: none */
  assert_null(strstr(o, "DILocation(line: 10, scope: !4)  ;")); /* metadata lines: none */
  mem_free(o);
}

static void x86_asm(void **state) {
  (void)state;
  const char *s = "k:\n"
                  "\t.file\t1 \"add.lua\"\n"
                  "\t.loc\t1 10 0\n"
                  "# %bb.0:\n"
                  "\tmovl\t$2048, %eax\n"
                  ".LBB0_1:\n"
                  "\t.loc\t1 0 0\n"
                  "\tretq\n";
  char *o = noted(s, LOWER_TEXT_X86);
  assert_non_null(strstr(o, "\tmovl\t$2048, %eax  # add.lua:10\n"));
  assert_non_null(strstr(o, "# %bb.0:\n"));     /* comments and labels: none */
  assert_non_null(strstr(o, ".LBB0_1:\n"));
  assert_non_null(strstr(o, "\tretq\n"));       /* line 0: none */
  mem_free(o);
}

static void ptx(void **state) {
  (void)state;
  /* NVPTX writes the .file table at the end */
  const char *s = ".visible .entry k(\n"
                  "\t.param .u64 k_param_0\n"
                  ")\n"
                  "{\n"
                  "\t.reg .b32 \t%r<6>;\n"
                  "\t.loc\t1 11 0\n"
                  "\tmov.u32 \t%r1, %tid.x;\n"
                  "$L__tmp0:\n"
                  "\tret;\n"
                  "}\n"
                  "\t.file\t1 \"/home/u/add.lua\"\n";
  char *o = noted(s, LOWER_TEXT_PTX);
  assert_non_null(strstr(o, "\tmov.u32 \t%r1, %tid.x;  // add.lua:11\n"));
  assert_non_null(strstr(o, "\tret;  // add.lua:11\n"));
  assert_non_null(strstr(o, "\t.reg .b32 \t%r<6>;\n")); /* directives: none */
  assert_non_null(strstr(o, "$L__tmp0:\n"));
  assert_non_null(strstr(o, "\t.param .u64 k_param_0\n"));
  mem_free(o);
}

static void no_locations(void **state) {
  (void)state;
  const char *s = "\tmov.u32 \t%r1, %tid.x;\n";
  char *o = noted(s, LOWER_TEXT_PTX);
  assert_string_equal(o, s);
  mem_free(o);
  o = noted("", LOWER_TEXT_LLVM);
  assert_string_equal(o, "");
  mem_free(o);
}

static void out_of_memory(void **state) {
  (void)state;
  const char *ir = "  %x = load ptr, ptr %a, !dbg !2\n!1 = !DIFile(filename: \"a.lua\")\n"
                   "!3 = !DISubprogram(file: !1)\n!2 = !DILocation(line: 4, scope: !3)\n";
  for (long n = 1; n < 8; n++) {
    char *out = NULL;
    Diag d = {0};
    long live = mem_live_count();
    mem_fail_after(n);
    int rc = lower_annotate_lines(ir, LOWER_TEXT_LLVM, &out, &d);
    mem_fail_after(0);
    if (rc == HL_OK) {
      assert_non_null(strstr(out, "; a.lua:4"));
      mem_free(out);
    } else {
      assert_null(out);
      assert_non_null(strstr(d.msg, "out of memory"));
    }
    assert_int_equal(mem_live_count(), live);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(llvm_ir), cmocka_unit_test(x86_asm),
                                     cmocka_unit_test(ptx), cmocka_unit_test(no_locations),
                                     cmocka_unit_test(out_of_memory)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
