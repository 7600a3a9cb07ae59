"""Issue 19: a list page costs the same queries whatever the number of its rows (no query per row): the
platform's marks list (with its Brand column), the brand's marks list, the notices list of either side and
the platform's queue, each measured at 5 rows and at 50 (a full page). Not timed: bench/pages.py times them."""
import pytest

from tests.conftest import count_queries, page_text


@pytest.fixture
def alliance(world):
    """A platform partnering with two brands, an admin of one brand and an analyst of the platform,
    each signed in, and one verified mark per brand to file notices under."""
    a = type("Alliance", (), {})()
    a.platform = world.org("Alibaba", kind="platform")
    world.marketplace(a.platform, "Taobao")
    a.brands = [world.org("Louis Vuitton"), world.org("Swarovski")]
    a.partnerships = [world.partnership(brand, a.platform) for brand in a.brands]
    a.marks = [world.verified_mark(brand, a.platform, word=f"{brand.name.upper()} NOTICES", number=str(30000000 + n))
               for n, brand in enumerate(a.brands)]
    a.added = {"marks": 0, "notices": 0}
    return a


def signed_in(make_client, world, org, role):
    client = make_client()
    client.sign_in(world.person(org, role).email)
    return client


def add_marks(world, a, count):
    """`count` more marks, the two brands in turn."""
    for _ in range(count):
        n = a.added["marks"]
        brand = a.brands[n % 2]
        world.mark(brand, word=f"{brand.name.upper()} {n}", number=str(4000000 + n))
        a.added["marks"] = n + 1


def add_notices(world, a, count):
    """`count` more notices of one listing each, the two brands in turn."""
    for _ in range(count):
        n = a.added["notices"]
        world.notice(a.brands[n % 2], a.partnerships[n % 2], [(f"https://item.taobao.com/item.htm?id={n}", f"s{n}")],
                     marks=[a.marks[n % 2]])
        a.added["notices"] = n + 1


def queries(client, path):
    client.get(path)  # once first: what a session's first page loads is not the page's own cost
    response, count = count_queries(lambda: client.get(path))
    assert response.status_code == 200, path
    return response, count


def test_the_marks_lists_query_the_same_for_5_and_50_marks(world, make_client, alliance):
    a = alliance
    platform = signed_in(make_client, world, a.platform, "analyst")
    brand = signed_in(make_client, world, a.brands[0], "admin")
    add_marks(world, a, 3)  # 5 marks with the two the alliance holds
    few, few_queries = queries(platform, "/marks")
    _, few_brand = queries(brand, "/marks")
    assert "5 marks" in page_text(few)
    add_marks(world, a, 45)
    many, many_queries = queries(platform, "/marks")
    _, many_brand = queries(brand, "/marks")
    text = page_text(many)
    assert "50 marks" in text and "Louis Vuitton" in text and "Swarovski" in text  # the Brand column
    assert many_queries == few_queries, (few_queries, many_queries)
    assert many_brand == few_brand, (few_brand, many_brand)


def test_the_notices_lists_and_the_queue_query_the_same_for_5_and_50_notices(world, make_client, alliance):
    a = alliance
    platform = signed_in(make_client, world, a.platform, "analyst")
    brand = signed_in(make_client, world, a.brands[0], "admin")
    pages = ((platform, "/notices"), (platform, "/queue"), (brand, "/notices"))
    add_notices(world, a, 5)
    few = [queries(client, path) for client, path in pages]
    add_notices(world, a, 45)
    many = [queries(client, path) for client, path in pages]
    assert page_text(many[1][0]).count("item.taobao.com/item.htm?id=") >= 50  # the queue shows all 50 listings
    assert [count for _, count in many] == [count for _, count in few], (few, many)
