"""A deterministic synthetic designation list of any size, and misspellings to plant in queries.

Persons in the naming patterns of several regions (Western, Spanish double surnames, Russian with patronymics,
Arabic with nasab and article, Chinese pinyin, Korean) and companies (a coined brand, generic words, a place, a legal
form). Names repeat parts the way real lists do: many share a surname or a generic word.
"""

from __future__ import annotations

import random
from typing import Any, Iterator

WESTERN_GIVEN = ("john james robert michael william david richard joseph thomas charles daniel matthew anthony mark "
                 "paul steven andrew kenneth george joshua kevin brian edward ronald timothy jason jeffrey ryan "
                 "mary patricia jennifer linda elizabeth barbara susan jessica sarah karen nancy lisa margaret "
                 "sandra ashley emily donna michelle carol amanda melissa deborah stephanie rebecca laura").split()
WESTERN_FAMILY = ("smith johnson williams brown jones miller davis wilson anderson taylor thomas moore martin "
                  "jackson thompson white harris clark lewis robinson walker young allen king wright scott green "
                  "baker adams nelson hill campbell mitchell roberts carter phillips evans turner torres parker "
                  "collins edwards stewart morris murphy cook rogers morgan peterson cooper reed bailey bell").split()
SPANISH_GIVEN = ("jose juan luis carlos jorge miguel pedro manuel francisco javier rafael fernando ricardo diego "
                 "maria ana carmen rosa elena isabel lucia sofia gabriela daniela valentina camila").split()
SPANISH_FAMILY = ("garcia rodriguez martinez hernandez lopez gonzalez perez sanchez ramirez torres flores rivera "
                  "gomez diaz reyes morales cruz ortiz gutierrez chavez ramos ruiz alvarez mendoza castillo "
                  "jimenez moreno romero herrera medina aguilar vargas castro guzman salazar quintero zambada").split()
RUSSIAN_GIVEN = ("alexander sergei dmitry andrei alexei vladimir mikhail nikolai ivan yevgeny igor oleg viktor "
                 "pavel yuri boris anatoly gennady vyacheslav konstantin maxim roman artem denis").split()
RUSSIAN_FAMILY = ("ivanov smirnov kuznetsov popov vasiliev petrov sokolov mikhailov novikov fedorov morozov "
                  "volkov alekseev lebedev semenov egorov pavlov kozlov stepanov nikolaev orlov andreev makarov "
                  "nikitin zakharov zaitsev soloviev borisov yakovlev grigoriev romanov vorobiev sergeev "
                  "timchenko rotenberg kovalchuk deripaska sechin patrushev").split()
ARABIC_GIVEN = ("mohammed ahmed ali hassan hussein omar khalid abdullah ibrahim youssef mahmoud mustafa said "
                "tariq karim nasser faisal hamza bilal samir jamal walid zaid anas osama rashid adel").split()
ARABIC_FAMILY = ("al-masri al-tikriti al-assad al-zawahiri al-baghdadi al-hashimi al-najjar al-khatib al-hakim "
                 "haddad nasrallah khoury mansour saleh qasim darwish haniya zaidan hamdan shaheen barakat "
                 "al-shami al-amin al-farsi al-harbi al-otaibi al-qahtani al-dosari al-ghamdi").split()
CHINESE_FAMILY = ("wang li zhang liu chen yang huang zhao wu zhou xu sun ma zhu hu guo he gao lin luo zheng liang "
                  "xie song tang han feng deng cao peng zeng xiao tian dong yuan pan yu jiang cai du").split()
CHINESE_SYLLABLES = ("wei jian ming hua ping jun hong qiang lin xin yong jie tao bin chao gang hui ling yan fang "
                     "guo quan hai lun shan liu zhi qing rui xing kang yi cheng dong feng long peng bo wen jing "
                     "yu an kai lei zhen").split()
KOREAN_FAMILY = "kim lee park choi jung kang cho yoon jang lim han oh seo shin kwon hwang ahn song ri pak".split()
KOREAN_SYLLABLES = "jong un il sung su min ho chol hae ryong yong nam gil hyun jin kyu ji woo seok chul".split()
ORG_SYLLABLES = ("al ba ca da el fa go ha in ka lo ma no or pa ro sa ta un va xi ze tron vis tek nor sol gen "
                 "dex max via lux neo cor fin ter mar zen kor tel dyn bio geo").split()
ORG_GENERIC = ("trading import export holding group industrial industries technology technologies shipping "
               "logistics investment development engineering construction petroleum energy mining resources "
               "international global services bank finance capital electronics systems solutions").split()
ORG_PLACES = ("tehran damascus moscow beijing shanghai dubai caracas havana pyongyang minsk kabul baghdad "
              "hangzhou shenzhen hong kong istanbul karachi lagos").split()
LEGAL_FORMS = ("LLC", "Ltd", "Co., Ltd.", "JSC", "PJSC", "GmbH", "S.A.", "FZE", "Corporation", "Company Limited",
               "Inc.", "OOO", "LLP", "")


def _person(rng: random.Random) -> tuple[str, list[str]]:
    style = rng.random()
    if style < 0.25:
        given, family = rng.choice(WESTERN_GIVEN), rng.choice(WESTERN_FAMILY)
        middle = rng.choice(WESTERN_GIVEN) if rng.random() < 0.7 else ""
        return f"{family.upper()}, {given.title()} {middle.title()}".strip(), []
    if style < 0.4:
        given = " ".join(rng.sample(SPANISH_GIVEN, rng.choice([1, 2])))
        return f"{rng.choice(SPANISH_FAMILY).upper()} {rng.choice(SPANISH_FAMILY).upper()}, {given.title()}", []
    if style < 0.6:
        given, family = rng.choice(RUSSIAN_GIVEN), rng.choice(RUSSIAN_FAMILY)
        patronymic = rng.choice(RUSSIAN_GIVEN).rstrip("iy") + rng.choice(["ovich", "evich"])
        return f"{family.upper()}, {given.title()} {patronymic.title()}", []
    if style < 0.8:
        given, father = rng.choice(ARABIC_GIVEN), rng.choice(ARABIC_GIVEN)
        if rng.random() < 0.6:
            father += " " + rng.choice(ARABIC_GIVEN)  # the grandfather's name, as lists often carry it
        family = rng.choice(ARABIC_FAMILY)
        alias = [f"{given.title()} {father.title()} {family.title()}"] if rng.random() < 0.3 else []
        return f"{family.upper()}, {given.title()} {father.title()}", alias
    if style < 0.93:
        given = "".join(rng.choice(CHINESE_SYLLABLES) for _ in range(rng.choice([1, 2, 2])))
        return f"{rng.choice(CHINESE_FAMILY).upper()}, {given.title()}", []
    given = " ".join(rng.choice(KOREAN_SYLLABLES).title() for _ in range(2))
    return f"{rng.choice(KOREAN_FAMILY).upper()}, {given}", []


def _organization(rng: random.Random) -> tuple[str, list[str]]:
    brand = "".join(rng.choice(ORG_SYLLABLES) for _ in range(rng.choice([2, 3, 3, 4]))).title()
    words = [brand] + [rng.choice(ORG_GENERIC).title() for _ in range(rng.choice([0, 1, 1, 2]))]
    if rng.random() < 0.3:
        words.insert(0 if rng.random() < 0.5 else len(words), rng.choice(ORG_PLACES).title())
    name = " ".join(words) + (" " + rng.choice(LEGAL_FORMS) if rng.random() < 0.8 else "")
    return name.strip().upper(), ([brand.upper()] if rng.random() < 0.2 else [])


def synthetic_entries(count: int, seed: int = 2020) -> Iterator[dict[str, Any]]:
    """Entries in the list format (what the matcher and the store take)."""
    rng = random.Random(seed)
    for i in range(count):
        is_person = rng.random() < 0.6
        name, aliases = _person(rng) if is_person else _organization(rng)
        yield {"id": f"syn-{i}", "type": "person" if is_person else "organization", "status": "designated",
               "names": [{"name": name, "kind": "primary"}] + [{"name": a, "kind": "alias"} for a in aliases],
               "programs": ["SYNTHETIC"], "citations": [{"source": "synthetic", "quote": name}]}


def misspell(name: str, rng: random.Random) -> str:
    """One realistic slip: a typo, a transposition, a dropped letter, a reordering or a dropped middle part."""
    words = name.replace(",", "").split()
    kind = rng.choice(["substitute", "transpose", "drop", "double", "reorder", "drop-word"])
    if kind == "reorder" and len(words) > 1:
        return " ".join(reversed(words))
    if kind == "drop-word" and len(words) > 2:
        return " ".join(words[:-1])
    # An edit inside the longest word: a long part is where a typo happens and should still be found.
    target = max(range(len(words)), key=lambda i: len(words[i]))
    word = words[target]
    if len(word) < 5:
        return " ".join(words)
    pos = rng.randrange(1, len(word) - 1)
    if kind == "transpose":
        word = word[:pos] + word[pos + 1] + word[pos] + word[pos + 2:]
    elif kind == "drop":
        word = word[:pos] + word[pos + 1:]
    elif kind == "double":
        word = word[:pos] + word[pos] + word[pos:]
    else:
        word = word[:pos] + rng.choice("aeioulnrst") + word[pos + 1:]
    words[target] = word
    return " ".join(words)
