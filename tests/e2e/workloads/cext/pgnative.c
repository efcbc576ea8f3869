// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A C extension for the --native test: trampoline(f) calls the Python
 * callable f from C, so a sample inside f has Python frames both above
 * and below this C function.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* noinline: the frame must exist for the unwinder to find. */
static __attribute__((noinline)) PyObject *
pgnative_call(PyObject *fn)
{
	PyObject *r = PyObject_CallObject(fn, NULL);

	__asm__ volatile("" ::: "memory"); /* no tail call into Python */
	return r;
}

static PyObject *pgnative_trampoline(PyObject *self, PyObject *fn)
{
	(void)self;
	if (!PyCallable_Check(fn)) {
		PyErr_SetString(PyExc_TypeError, "trampoline needs a callable");
		return NULL;
	}
	return pgnative_call(fn);
}

static PyMethodDef methods[] = {
	{ "trampoline", pgnative_trampoline, METH_O, "call fn from C" },
	{ NULL, NULL, 0, NULL },
};

static struct PyModuleDef module = {
	PyModuleDef_HEAD_INIT, "pgnative", NULL, -1, methods,
};

PyMODINIT_FUNC PyInit_pgnative(void)
{
	return PyModule_Create(&module);
}
