/* int_n_stubs[v*4]: "int $v; ret" for every vector, so a host interrupt acknowledged at a
 * VM exit can be run through its IDT gate like any other interrupt. */
    .text
    .globl int_n_stubs
    .balign 16
int_n_stubs:
    .altmacro
    .macro intstub v
    .balign 4
    .if \v < 32
    ud2                 /* exceptions are never dispatched this way */
    ret
    .else
    int $\v
    ret
    .endif
    .endm
    .set i, 0
    .rept 256
    intstub %i
    .set i, i + 1
    .endr
