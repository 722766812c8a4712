#ifndef TEST_CONSTS_H
#define TEST_CONSTS_H
#define CONST_A 10
#define CONST_B (CONST_A + 5)
#endif
