"""The contact map being edited (no Qt needed)."""

import numpy as np

from core.contact.map_document import ContactMapDocument


def _doc():
    doc = ContactMapDocument()
    probs = np.array([[0, 0.9, 0.3], [0.9, 0, 0.6], [0.3, 0.6, 0]], dtype=np.float32)
    doc.load(["Na1", "Cl1", "Cl2"], ["Na", "Cl", "Cl"], probs > 0.5, probs, 0.5)
    return doc


def test_toggle_edits_both_mirror_entries_and_undo_restores():
    doc = _doc()
    calls = []
    doc.connect(lambda: calls.append(1))
    before = doc.matrix.copy()
    assert doc.toggle(0, 2)
    assert doc.matrix[0, 2] == doc.matrix[2, 0] == 1 and doc.edited
    assert not doc.toggle(1, 1)  # the diagonal stays zero
    assert doc.undo() and (doc.matrix == before).all() and not doc.edited
    assert doc.redo() and doc.matrix[2, 0] == 1
    assert list(doc.coordination()) == [2, 2, 2]
    assert calls


def test_threshold_and_reset_are_undoable():
    doc = _doc()
    doc.set_threshold(0.25)
    assert doc.matrix.sum() == 6
    doc.reset()  # the prediction's map and its threshold: the slider does not stay at 0.25 beside it
    assert doc.matrix.sum() == 4 and doc.threshold == 0.5
    doc.undo()
    assert doc.threshold == 0.25 and doc.matrix.sum() == 6
    doc.undo()
    assert doc.threshold == 0.5 and doc.matrix.sum() == 4
    assert not doc.undo()
    assert doc.at_prediction
    doc.set_threshold(0.55)  # the same map (no probability between 0.5 and 0.55), another threshold
    assert not doc.edited and not doc.at_prediction  # Reset has something to restore: it is offered
    doc.reset()
    assert doc.at_prediction


def test_rethresholding_says_how_many_hand_edits_it_replaced():
    """Moving the threshold wiped hand edits without a word (a new user's trial): it says how many."""
    doc = _doc()
    assert doc.set_threshold(0.5) == 0 and not doc.can_undo  # the same threshold: nothing happens
    doc.toggle(0, 2)  # a bond the 0.5 map lacks
    doc.toggle(0, 1)  # and one it has, removed
    assert doc.set_threshold(0.25) == 2 and doc.matrix.sum() == 6
    assert doc.undo() and doc.matrix[0, 2] == 1 and doc.matrix[0, 1] == 0  # the edits come back
    assert doc.set_threshold(0.7) == 2


def test_diff_against_a_reference():
    doc = _doc()
    ref = np.zeros((3, 3), dtype=np.uint8)
    ref[0, 2] = ref[2, 0] = 1
    doc.set_reference(ref)
    diff = doc.diff()
    assert diff[0, 1] == 1 and diff[0, 2] == -1
    doc.set_reference(np.zeros((2, 2)))  # other atoms: no overlay
    assert doc.diff() is None


def test_metal_metal_bonds_are_flagged_and_periodic_cn_is_kept():
    from core.contact.map_document import ContactMapDocument

    doc = ContactMapDocument()
    doc.load(["Sr1", "Ti1", "O1"], ["Sr", "Ti", "O"], np.array([[0, 0, 1], [0, 0, 1], [1, 1, 0]]),
             image_coordination=[12, 6, 6])
    assert doc.rule_conflicts() == [] and doc.image_coordination.tolist() == [12, 6, 6]
    assert doc.coordination().tolist() == [1, 1, 2]  # partners in the cell, not the CN
    doc.toggle(0, 1)  # Sr-Ti: two metals
    assert doc.rule_conflicts() == [(0, 1)]
    doc.undo()
    assert doc.rule_conflicts() == []
