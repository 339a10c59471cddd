"""sarl_hf.registry: the name → entry tables that channel formats, banks and encoders join."""

import pytest

from sarl_hf.registry import Registry


def test_entries_keep_their_order_and_a_decorator_registers():
    table = Registry("widget")
    table.register("b", 2)

    @table.register("a")
    def make_a():
        return 1

    assert table.names() == ("b", "a") and list(table) == ["b", "a"] and len(table) == 2
    assert table["a"] is make_a and table["a"]() == 1
    assert "b" in table and "c" not in table and table.get("c") is None


def test_a_taken_name_is_refused_unless_replaced():
    table = Registry("widget")
    table.register("a", 1)
    with pytest.raises(ValueError, match="widget 'a' is already registered"):
        table.register("a", 2)
    table.register("a", 2, replace=True)
    assert table["a"] == 2
    assert table.unregister("a") == 2 and "a" not in table
    with pytest.raises(KeyError, match="unknown widget 'a'"):
        table.unregister("a")


@pytest.mark.parametrize("name", ["", None, 3])
def test_a_name_must_be_a_non_empty_string(name):
    with pytest.raises(ValueError, match="non-empty string"):
        Registry("widget").register(name, 1)


def test_an_unknown_name_lists_the_choices():
    table = Registry("widget")
    table.register("a", 1)
    with pytest.raises(KeyError, match=r"unknown widget 'z'; choose from \('a',\)"):
        table["z"]
