"""How names are written, case by case: typos, organizations' forms, persons' forms, other scripts.

Each row is a kind of variation a list name meets (matcher v2's issue), not a name the matcher was tuned on: the
accuracy on data nobody here wrote is in bench/independent.py.
"""

from __future__ import annotations

import pytest

from screening.matching import compare, normalize_name
from screening.matching.parts import part_similarity
from screening.matching.score import calibrate, raw_score_for


def _match(query: str, listed: str, kind: str) -> bool:
    return compare(query, listed, type=kind).match  # type: ignore[arg-type]


@pytest.mark.parametrize("query, listed, kind", [
    # Typos cost like typos everywhere: short surnames, legal forms, short words, digits typed for letters.
    ("Cehn Quanguo", "CHEN, Quanguo", "person"),
    ("Zaho Wei", "ZHAO, Wei", "person"),
    ("Guo Jianpeng", "GO, Jianpeng", "person"),
    ("Acme LCL", "ACME LLC", "organization"),
    ("Bosch GbmH", "Bosch GmbH", "organization"),
    ("Quantum Group FZAE", "QUANTUM GROUP FZE", "organization"),
    ("Gol Mining", "Gold Mining", "organization"),
    ("Vikt0r Ivan0v", "IVANOV, Viktor", "person"),
    # Organizations: acronyms and qualifiers in parentheses, numbers, abbreviations, legal forms in words.
    ("Muhammad Jamal Network (MJN)", "MJN", "organization"),
    ("Xinjiang Public Security Bureau (XPSB)", "XINJIANG PUBLIC SECURITY BUREAU", "organization"),
    ("Siemens (Deutschland)", "Siemens", "organization"),
    ("Leader (Europe) Trading", "LEADER TRADING", "organization"),
    ("2nd Academy of Natural Sciences", "SECOND ACADEMY OF NATURAL SCIENCES", "organization"),
    ("Twenty-One Century Shipping", "21 CENTURY SHIPPING", "organization"),
    ("Sea Star II", "SEA STAR 2", "organization"),
    ("Acme Intl Mfg Corp", "ACME INTERNATIONAL MANUFACTURING CORPORATION", "organization"),
    ("Jones Bros Trading", "JONES BROTHERS TRADING", "organization"),
    ("Aktsionernoe Obshchestvo Rosneft", "ROSNEFT JSC", "organization"),
    ("Bosch Gesellschaft mit beschrankter Haftung", "BOSCH GMBH", "organization"),
    ("Iberia Sociedad Anónima", "IBERIA S.A.", "organization"),
    ("BoschGmbH", "BOSCH GMBH", "organization"),
    ("Pacific Shipping & Trans", "PACIFIC SHIPPING AND TRANSPORTATION LIMITED", "organization"),
    # Persons: nicknames (the nicknames package), initials, titles in many languages, a repeated part.
    ("Bill Gates", "GATES, William", "person"),
    ("Bob Smith", "SMITH, Robert", "person"),
    ("J.F. Kennedy", "KENNEDY, John Fitzgerald", "person"),
    ("Dr. Herr Ahmed Karimi", "KARIMI, Ahmed", "person"),
    ("Sheikh Hajji General Ahmed Karimi", "KARIMI, Ahmed", "person"),
    ("Maulavi Adam Khan", "ADAM KHAN ACHEKZAI", "person"),
    ("Ali Ali Abkar", "ABKAR, Ali", "person"),
    ("Vladimir Putin", "PUTIN, Vladimir Vladimirovich", "person"),
    # Other scripts against Latin.
    ("محمد عبد الرحمن", "Mohammed Abdul Rahman", "person"),
    ("عبدالرحمان آغا", "ABDUL RAHMAN AGHA", "person"),
    ("جلال الدين حقانى", "JALALUDDIN HAQQANI", "person"),
    ("דוד בן גוריון", "David Ben Gurion", "person"),
    ("约翰", "John", "person"),
    ("约翰·史密斯", "John Smith", "person"),
    ("マイケル", "Michael", "person"),
    ("ミハイロフ", "Mikhailov", "person"),
    ("Teng Hsiao-ping", "DENG, Xiaoping", "person"),
    ("Mao Tse-tung", "MAO, Zedong", "person"),
    ("Μιχάλης Παπαδόπουλος", "Michalis Papadopoulos", "person"),
    ("최진희", "Choi Jin-hee", "person"),
    ("송영무", "Song Young-moo", "person"),
    ("Владимир Путин", "PUTIN, Vladimir", "person"),
])
def test_written_differently_still_matches(query: str, listed: str, kind: str) -> None:
    result = compare(query, listed, type=kind)  # type: ignore[arg-type]
    assert result.match, (result.score, result.explanation)


@pytest.mark.parametrize("query, listed, kind", [
    # A substituted word stays a contradiction; a different given name is a different person.
    ("Pacific Steel Company", "PACIFIC IRON COMPANY", "organization"),
    ("Daesong Shipping", "DAESONG TRADING", "organization"),
    ("Petrov Ivan Sergeevich", "PETROV, Igor Sergeevich", "person"),
    ("Omar Sabawi Ibrahim Hasan al-Tikriti", "YASIR SABAWI IBRAHIM HASAN AL-TIKRITI", "person"),
    # Two names in Han characters one character apart are two names, however alike they sound.
    ("李国强", "李国墙", "person"),
    # Generic words and places alone are no evidence; what is left out may not outweigh what agrees.
    ("Hangzhou Digital Technology Co.", "HANGZHOU HIKVISION DIGITAL TECHNOLOGY CO., LTD.", "organization"),
    ("Mohammed", "MOHAMMED ALI", "person"),
    ("Vikutor Novikov Pavelovich", "VECTOR GLOBAL JSC", "organization"),
    ("Nord Stream AG", "NORD STREAM 2 AG", "organization"),
    # Short parts: two pinyin syllables that differ are two names.
    ("Yan Ming", "YANG, Ming", "person"),
    ("John Smith", "朱海仑", "person"),  # a Chinese name's sound reading is no Western name's
])
def test_different_names_do_not_match(query: str, listed: str, kind: str) -> None:
    result = compare(query, listed, type=kind)  # type: ignore[arg-type]
    assert not result.match, (result.score, result.explanation)


def test_a_legal_form_typo_is_one_slip_but_a_word_is_a_word() -> None:
    assert normalize_name("Acme LLM", "organization").tokens == ("acme", "llm")
    assert normalize_name("Acme Ink", "organization").tokens == ("acme", "ink")
    assert normalize_name("Apex Dinc.", "organization").legal_form == "corp"


def test_legal_forms_written_differently_are_one_class() -> None:
    forms = {normalize_name(n, "organization").legal_form for n in
             ("Acme GmbH", "Acme LLC", "Acme OOO", "Acme Obshchestvo s Ogranichennoy Otvetstvennostyu")}
    assert forms == {"llc"}, forms


def test_arabic_particles_have_one_spelling() -> None:
    tokens = {normalize_name(n, "person").tokens for n in
              ("Abdul Rahman", "Abd al-Rahman", "Abdulrahman", "Abdel Rahman", "عبد الرحمن")}
    assert len({t[-1] for t in tokens}) <= 2 and all(t[0] == "abd" for t in tokens), tokens
    assert normalize_name("Salahuddin", "person").tokens == ("salah", "al", "din")
    assert normalize_name("Habibullah", "person").tokens == ("habib", "allah")


@pytest.mark.parametrize("a, b, same", [
    ("cehn", "chen", True), ("gol", "gold", True), ("guo", "go", True),  # one slip
    ("li", "lu", False), ("yan", "yang", False), ("tang", "tan", False),  # another pinyin syllable
    ("vladimir", "volodymyr", True),  # the same consonants, long
    ("mahmoud", "mohammed", False),  # short consonant skeletons tell these apart
    ("bill", "william", True),  # nickname
])
def test_part_similarity_at_the_bar(a: str, b: str, same: bool) -> None:
    sim, how = part_similarity(a, b)
    assert (sim >= 0.7) is same, (sim, how)


def test_calibration_keeps_order_and_the_default() -> None:
    raws = [i / 100 for i in range(101)]
    scores = [calibrate(r) for r in raws]
    assert scores == sorted(scores) and scores[0] == 0.0 and scores[-1] == 1.0
    assert all(abs(raw_score_for(calibrate(r)) - r) < 1e-9 for r in raws)
    assert abs(calibrate(raw_score_for(0.8)) - 0.8) < 1e-12


def test_explanation_says_what_met_what_and_why() -> None:
    result = compare("عبد الرحمن ياسين", "ABDUL RAHMAN YASIN", type="person")
    hows = {p["list"]: p["how"] for p in result.explanation["parts"]}
    assert "across scripts" in hows["rahman"], hows
    assert result.explanation["base_score"] <= 1.0 and result.explanation["score"] == result.score
