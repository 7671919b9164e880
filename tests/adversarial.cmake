# The adversarial corpus (tests/adversarial): its files are checked by
# adversarial_test.cpp (a GoogleTest, globbed); here, that the committed files
# match their generator, and that the reference Python package decides every
# file as expectations.tsv says (reject, or accept for the documented
# deviations and positive controls). Both skip (77) without their modules.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND)
  add_test(NAME adversarial_corpus_fresh
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/adversarial/make_corpus.py --check)
  add_test(NAME adversarial_reference
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/py/adversarial_reference.py
                   ${CMAKE_CURRENT_SOURCE_DIR}/adversarial)
  set_tests_properties(adversarial_reference PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
endif()
